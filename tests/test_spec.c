/* Model spec JSON: defaults, canonical output, and every kind of bad input named. */
#include "io_fixture.h"

#include "io/spec.h"

TestSuite(spec, .init = io_setup, .fini = io_teardown);

static const char *spec_file(const char *name, const char *text) {
  const char *p = io_path(name);
  io_write(p, text, strlen(text));
  return p;
}

Test(spec, loads_full_spec) {
  const char *p = spec_file("m.json",
                            "{ \"input_dim\": 784, \"hidden\": [128, 64, 32], \"output_dim\": 10,\n"
                            "  \"activation\": \"tanh\", \"batchnorm\": \"running\", \"residual\": true,\n"
                            "  \"bias\": false, \"loss\": \"mse\", \"weight_decay\": 0.0005 }\n");
  hs_model_spec s;
  io_assert_ok(hs_spec_load(io_ctx, p, &s));
  cr_assert_eq(s.input_dim, 784);
  cr_assert_eq(s.n_hidden, 3);
  cr_assert_eq(s.hidden[0], 128);
  cr_assert_eq(s.hidden[2], 32);
  cr_assert_eq(s.output_dim, 10);
  cr_assert_eq(s.activation, HS_ACT_TANH);
  cr_assert_eq(s.batchnorm, HS_BN_RUNNING);
  cr_assert_eq(s.residual, 1);
  cr_assert_eq(s.bias, 0);
  cr_assert_eq(s.loss, HS_LOSS_MSE);
  cr_assert_eq(s.weight_decay, 0.0005);
}

Test(spec, defaults_and_canonical_json) {
  const char *p = spec_file("m.json", "{\"input_dim\": 4, \"output_dim\": 3}");
  hs_model_spec s;
  io_assert_ok(hs_spec_load(io_ctx, p, &s));
  char *j = hs_spec_to_json(&s);
  cr_assert_str_eq(j, "{\"input_dim\":4,\"hidden\":[],\"output_dim\":3,\"activation\":\"relu\","
                      "\"batchnorm\":\"none\",\"residual\":false,\"bias\":true,"
                      "\"loss\":\"cross_entropy\",\"weight_decay\":0}");
  free(j);
  hs_model_spec d = hs_spec_defaults();
  cr_assert_eq(d.bias, 1);
  cr_assert_eq(d.activation, HS_ACT_RELU);
  cr_assert_eq(hs_spec_validate(io_ctx, &d), HS_E_INVALID, "input_dim is required");
}

Test(spec, json_round_trip) {
  hs_model_spec s = hs_spec_defaults();
  s.input_dim = 7;
  s.n_hidden = 2;
  s.hidden[0] = 5;
  s.hidden[1] = 5;
  s.output_dim = 2;
  s.activation = HS_ACT_LINEAR;
  s.batchnorm = HS_BN_BATCH;
  s.residual = 1;
  s.weight_decay = 0.1;
  char *j = hs_spec_to_json(&s);
  cr_assert(strstr(j, "\"weight_decay\":0.1}"), "shortest form: %s", j);
  hs_model_spec t;
  io_assert_ok(hs_spec_parse(io_ctx, "inline", j, strlen(j), &t));
  char *k = hs_spec_to_json(&t);
  cr_assert_str_eq(j, k);
  free(j);
  free(k);
}

/* file text, expected message fragment */
static const char *const bad[][2] = {
    {"{\"input_dim\": 4, \"output_dim\": 3, \"hiden\": [2]}", "unknown field 'hiden'"},
    {"{\"input_dim\": 4, \"output_dim\": 3, \"activation\": \"gelu\"}",
     "field 'activation': unknown value 'gelu' (expected linear, relu or tanh)"},
    {"{\"input_dim\": 4, \"output_dim\": 3, \"batchnorm\": \"layer\"}", "unknown value 'layer'"},
    {"{\"input_dim\": 4, \"output_dim\": 3, \"loss\": \"hinge\"}", "unknown value 'hinge'"},
    {"{\"input_dim\": 4, \"output_dim\": 3, \"loss\": 1}", "field 'loss': expected a string"},
    {"{\"input_dim\": 4, \"output_dim\": 3, \"hidden\": 8}",
     "field 'hidden': expected an array of positive integers"},
    {"{\"input_dim\": 4, \"output_dim\": 3, \"hidden\": [8, 0]}",
     "field 'hidden': expected an array of positive integers"},
    {"{\"input_dim\": 4, \"output_dim\": 3, \"hidden\": [8, 2.5]}", "field 'hidden'"},
    {"{\"input_dim\": 4, \"output_dim\": 3, \"hidden\": [\"8\"]}", "field 'hidden'"},
    {"{\"input_dim\": \"4\", \"output_dim\": 3}", "field 'input_dim': expected a positive integer"},
    {"{\"input_dim\": -4, \"output_dim\": 3}", "field 'input_dim'"},
    {"{\"input_dim\": 1e12, \"output_dim\": 3}", "field 'input_dim'"},
    {"{\"input_dim\": 4, \"output_dim\": 3, \"residual\": 1}", "field 'residual': expected true or false"},
    {"{\"input_dim\": 4, \"output_dim\": 3, \"bias\": \"yes\"}", "field 'bias'"},
    {"{\"input_dim\": 4, \"output_dim\": 3, \"weight_decay\": -0.1}", "field 'weight_decay'"},
    {"{\"output_dim\": 3}", "missing required field 'input_dim'"},
    {"{\"input_dim\": 4}", "missing required field 'output_dim'"},
    {"{\"input_dim\": 4, \"output_dim\": 1}", "cross_entropy needs at least 2 classes"},
    {"{\"input_dim\": 4, \"output_dim\": 3, \"input_dim\": 5}", "field 'input_dim' given twice"},
    {"[1, 2]", "expected a JSON object"},
    {"{\"input_dim\": 4,\n \"output_dim\": 3,,}", "malformed JSON at line 2, column "},
    {"{\"input_dim\": 4, \"output_dim\": 3", "truncated JSON"},
    {"{\"input_dim\": 4, \"output_dim\": 3} {}", "text after the JSON object"},
    {"", "empty JSON document"},
};

Test(spec, bad_inputs_are_named) {
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char name[32];
    snprintf(name, sizeof name, "bad%zu.json", i);
    const char *p = spec_file(name, bad[i][0]);
    hs_model_spec s;
    io_assert_fail(hs_spec_load(io_ctx, p, &s), HS_E_INVALID, p, bad[i][1]);
  }
}

Test(spec, too_many_hidden_layers) {
  char text[1024] = "{\"input_dim\": 4, \"output_dim\": 3, \"hidden\": [1";
  for (int i = 1; i <= HS_MAX_HIDDEN; i++) strcat(text, ",1");
  strcat(text, "]}");
  const char *p = spec_file("deep.json", text);
  hs_model_spec s;
  io_assert_fail(hs_spec_load(io_ctx, p, &s), HS_E_INVALID, p, "at most 64");
}

Test(spec, missing_file) {
  const char *p = io_path("none.json");
  hs_model_spec s;
  io_assert_fail(hs_spec_load(io_ctx, p, &s), HS_E_IO, p, "cannot open");
}

Test(spec, validate_names_field) {
  hs_model_spec s = hs_spec_defaults();
  s.input_dim = 3;
  s.output_dim = 2;
  s.n_hidden = 1;
  s.hidden[0] = 0;
  cr_assert_eq(hs_spec_validate(io_ctx, &s), HS_E_INVALID);
  cr_assert(strstr(hs_last_error(io_ctx), "field 'hidden'"), "%s", hs_last_error(io_ctx));
  s.hidden[0] = 3;
  io_assert_ok(hs_spec_validate(io_ctx, &s));
}

/* ---- the layer form ---- */

#include "nn/spec_check.h"

#define DESIGN_EXAMPLE                                                                                          \
  "{ \"input_shape\": [1, 28, 28],\n"                                                                          \
  "  \"layers\": [\n"                                                                                          \
  "    {\"type\": \"conv2d\", \"out_channels\": 16, \"kernel\": 3, \"stride\": 1, \"padding\": 1, \"bias\": false},\n" \
  "    {\"type\": \"batchnorm\"},\n"                                                                           \
  "    {\"type\": \"relu\"},\n"                                                                                \
  "    {\"type\": \"residual\",\n"                                                                             \
  "     \"body\":     [{\"type\": \"conv2d\", \"out_channels\": 32, \"kernel\": 3, \"stride\": 2, \"padding\": 1, \"bias\": false},\n" \
  "                  {\"type\": \"batchnorm\"}, {\"type\": \"relu\"},\n"                                        \
  "                  {\"type\": \"conv2d\", \"out_channels\": 32, \"kernel\": 3, \"padding\": 1, \"bias\": false},\n" \
  "                  {\"type\": \"batchnorm\"}],\n"                                                            \
  "     \"shortcut\": [{\"type\": \"conv2d\", \"out_channels\": 32, \"kernel\": 1, \"stride\": 2, \"bias\": false},\n" \
  "                  {\"type\": \"batchnorm\"}]},\n"                                                           \
  "    {\"type\": \"relu\"},\n"                                                                                \
  "    {\"type\": \"global_avgpool\"},\n"                                                                      \
  "    {\"type\": \"flatten\"},\n"                                                                             \
  "    {\"type\": \"linear\", \"out_features\": 10}\n"                                                         \
  "  ],\n"                                                                                                     \
  "  \"batchnorm_mode\": \"batch\", \"loss\": \"cross_entropy\", \"weight_decay\": 0 }\n"

Test(spec, layer_form_shapes_and_paths) {
  hs_model_spec *s = malloc(sizeof *s);
  io_assert_ok(hs_spec_load(io_ctx, spec_file("l.json", DESIGN_EXAMPLE), s));
  cr_assert_eq(s->form, HS_SPEC_LAYERS);
  cr_assert_eq(s->n_layers, 15);
  cr_assert_eq(s->input_dim, 784);
  cr_assert_eq(s->output_dim, 10);
  cr_assert_eq(s->layers[3].type, HS_LAYER_RESIDUAL);
  cr_assert_eq(s->layers[3].body_len, 5);
  cr_assert_eq(s->layers[3].shortcut_len, 2);
  hs_layer_shape sh[16];
  io_assert_ok(hs_spec_layer_shapes(io_ctx, s, sh));
  cr_assert_str_eq(sh[4].path, "layers.3.body.0");
  cr_assert_str_eq(sh[9].path, "layers.3.shortcut.0");
  cr_assert_str_eq(sh[11].path, "layers.4");
  cr_assert_eq(sh[0].out.dim[0], 16);
  cr_assert_eq(sh[0].out.dim[1], 28);
  cr_assert_eq(sh[4].out.dim[1], 14); /* (28 + 2 - 3)/2 + 1 */
  cr_assert_eq(sh[9].out.dim[1], 14); /* (28 - 1)/2 + 1 */
  cr_assert_eq(sh[3].out.dim[0], 32);
  cr_assert_eq(sh[12].out.rank, 3);
  cr_assert_eq(sh[12].out.dim[1], 1);
  cr_assert_eq(sh[13].out.rank, 1);
  cr_assert_eq(sh[13].out.dim[0], 32);
  free(s);
}

Test(spec, layer_form_canonical_json_round_trips) {
  hs_model_spec *a = malloc(sizeof *a), *b = malloc(sizeof *b);
  io_assert_ok(hs_spec_load(io_ctx, spec_file("l.json", DESIGN_EXAMPLE), a));
  char *j = hs_spec_to_json(a);
  cr_assert(j != NULL);
  cr_assert(strstr(j, "{\"input_shape\":[1,28,28],\"layers\":[{\"type\":\"conv2d\",\"out_channels\":16,\"kernel\":3,"
                      "\"stride\":1,\"padding\":1,\"bias\":false}") == j, "%s", j);
  cr_assert(strstr(j, "\"shortcut\":[{\"type\":\"conv2d\",\"out_channels\":32,\"kernel\":1,\"stride\":2,\"padding\":0") != NULL, "%s", j);
  io_assert_ok(hs_spec_parse(io_ctx, "canonical", j, strlen(j), b));
  cr_assert_eq(a->n_layers, b->n_layers);
  cr_assert(memcmp(a->layers, b->layers, (size_t)a->n_layers * sizeof a->layers[0]) == 0,
            "the canonical text does not read back as the same layers");
  cr_assert(a->input_dim == b->input_dim && a->output_dim == b->output_dim && a->loss == b->loss &&
            a->batchnorm == b->batchnorm && a->weight_decay == b->weight_decay);
  char *j2 = hs_spec_to_json(b);
  cr_assert_str_eq(j2, j);
  free(j); free(j2); free(a); free(b);
}

static void expect_bad(const char *text, const char *needle1, const char *needle2) {
  hs_model_spec *s = malloc(sizeof *s);
  hs_status st = hs_spec_parse(io_ctx, "bad.json", text, strlen(text), s);
  cr_expect_eq(st, HS_E_INVALID, "accepted: %s", text);
  const char *msg = hs_last_error(io_ctx);
  cr_expect(strstr(msg, "bad.json") != NULL, "message does not name the file: %s", msg);
  cr_expect(strstr(msg, needle1) != NULL, "message '%s' lacks '%s'", msg, needle1);
  if (needle2) cr_expect(strstr(msg, needle2) != NULL, "message '%s' lacks '%s'", msg, needle2);
  free(s);
}

#define L(body) "{\"input_shape\":[2,7,7],\"layers\":[" body "]}"
#define FL ",{\"type\":\"flatten\"},{\"type\":\"linear\",\"out_features\":3}"

Test(spec, layer_form_bad_inputs_name_the_layer) {
  expect_bad(L("{\"type\":\"conv3d\",\"out_channels\":2}" FL), "layers.0", "unknown layer type 'conv3d'");
  expect_bad(L("{\"type\":\"conv2d\",\"out_channels\":2,\"kernel\":3,\"dilation\":2}" FL), "layers.0", "'dilation'");
  expect_bad(L("{\"type\":\"conv2d\",\"kernel\":3}" FL), "layers.0", "missing field 'out_channels'");
  expect_bad(L("{\"type\":\"relu\"},{\"type\":\"conv2d\",\"out_channels\":2,\"kernel\":9}" FL), "layers.1",
             "larger than the padded input 7 x 7");
  expect_bad(L("{\"type\":\"conv2d\",\"out_channels\":2,\"kernel\":3,\"padding\":-1}" FL), "layers.0", "negative");
  expect_bad(L("{\"type\":\"conv2d\",\"out_channels\":2,\"kernel\":3},{\"type\":\"linear\",\"out_features\":3}"),
             "layers.1", "add a flatten layer");
  expect_bad(L("{\"type\":\"residual\",\"body\":[{\"type\":\"conv2d\",\"out_channels\":3,\"kernel\":3,\"stride\":2}]}" FL),
             "layers.0", "shortcut gives [2, 7, 7]");
  expect_bad(L("{\"type\":\"residual\",\"body\":[{\"type\":\"relu\"},{\"type\":\"maxpool\",\"kernel\":[2,8]}]}" FL),
             "layers.0.body.1", "kernel");
  expect_bad(L("{\"type\":\"relu\"}"), "outputs [2, 7, 7]", NULL);
  /* an empty key once looped forever in the key check (found by fuzz_spec) */
  expect_bad(L("{\"type\":\"conv2d\",\"\":16,\"out_channels\":2,\"kernel\":3}" FL), "layers.0", "unknown field ''");
  expect_bad("{\"input_shape\":[4],\"hidden\":[3],\"layers\":[{\"type\":\"linear\",\"out_features\":2}]}", "'hidden'",
             "cannot be mixed");
  expect_bad("{\"input_shape\":[4,4],\"layers\":[{\"type\":\"linear\",\"out_features\":2}]}", "input_shape", NULL);
  expect_bad("{\"input_shape\":[4],\"layers\":[{\"type\":\"linear\",\"out_features\":1}],\"loss\":\"cross_entropy\"}",
             "2 classes", NULL);
  /* more layers than HS_MAX_LAYERS */
  size_t cap = 64 + 20 * (HS_MAX_LAYERS + 2);
  char *big = malloc(cap);
  size_t n = (size_t)snprintf(big, cap, "{\"input_shape\":[4],\"layers\":[");
  for (int i = 0; i <= HS_MAX_LAYERS; i++) n += (size_t)snprintf(big + n, cap - n, "%s{\"type\":\"relu\"}", i ? "," : "");
  snprintf(big + n, cap - n, "]}");
  expect_bad(big, "more than", NULL);
  free(big);
}

Test(spec, mlp_expansion_keeps_the_names) {
  hs_model_spec m = hs_spec_defaults(), *l = malloc(sizeof *l);
  m.input_dim = 5, m.n_hidden = 3, m.hidden[0] = 4, m.hidden[1] = 4, m.hidden[2] = 6, m.output_dim = 3;
  m.batchnorm = HS_BN_RUNNING, m.residual = 1, m.activation = HS_ACT_TANH;
  io_assert_ok(hs_spec_mlp_to_layers(io_ctx, &m, l));
  /* block 0: linear norm act; block 1: residual{linear norm act}; block 2 (width change): plain; head */
  const hs_layer_type want[] = {HS_LAYER_LINEAR, HS_LAYER_BATCHNORM, HS_LAYER_TANH, HS_LAYER_RESIDUAL, HS_LAYER_LINEAR,
                                HS_LAYER_BATCHNORM, HS_LAYER_TANH, HS_LAYER_LINEAR, HS_LAYER_BATCHNORM, HS_LAYER_TANH,
                                HS_LAYER_LINEAR};
  cr_assert_eq(l->n_layers, 11);
  for (int i = 0; i < 11; i++) cr_expect_eq(l->layers[i].type, want[i], "entry %d", i);
  cr_assert_eq(l->layers[3].body_len, 3);
  cr_assert_eq(l->layers[3].shortcut_len, 0);
  cr_assert_str_eq(l->layers[4].name, "blocks.1.linear");
  cr_assert_str_eq(l->layers[8].name, "blocks.2.norm");
  cr_assert_str_eq(l->layers[10].name, "head");
  cr_assert_eq(l->batchnorm, HS_BN_RUNNING);
  cr_assert_eq(l->input_dim, 5);
  cr_assert_eq(l->output_dim, 3);
  free(l);
}
