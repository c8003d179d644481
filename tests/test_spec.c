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
