/* scripts/export_torch.py end to end (label torch): a PyTorch module defined in a user's file
 * (an nn.Sequential with a residual block: a module with `body` and `shortcut` children) is
 * exported, hesspec reads the spec and the weights, and its loss, gradient and HVPs equal
 * PyTorch's on the same files to 1e-10; an unsupported module is refused by name (exit 2) and
 * leaves no output file. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io/npy.h"
#include "support/hs_test.h"
#include "support/torch_support.h"

#define TOL 1e-10

static const char *NET_PY =
    "import torch, torch.nn as nn\n"
    "class Residual(nn.Module):\n"
    "    def __init__(self, c_in, c_out, stride):\n"
    "        super().__init__()\n"
    "        self.body = nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(),\n"
    "                                  nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False), nn.BatchNorm2d(c_out))\n"
    "        self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))\n"
    "    def forward(self, x):\n"
    "        return self.body(x) + self.shortcut(x)\n"
    "def make():\n"
    "    torch.manual_seed(7)\n"
    "    net = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.Tanh(), nn.MaxPool2d(2), Residual(3, 4, 2), nn.ReLU(),\n"
    "                        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3))\n"
    "    with torch.no_grad():\n"
    "        for m in net.modules():\n"
    "            if isinstance(m, nn.BatchNorm2d):\n"
    "                m.weight.uniform_(0.5, 1.5); m.bias.uniform_(-0.5, 0.5)\n"
    "                m.running_mean.uniform_(-0.5, 0.5); m.running_var.uniform_(0.5, 1.5)\n"
    "    return net\n"
    "bad = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5), nn.Linear(4, 2))\n";

static int run(const char *cmd, char *out, size_t len) {
  FILE *p = popen(cmd, "r");
  cr_assert(p, "cannot run %s", cmd);
  size_t n = fread(out, 1, len - 1, p);
  out[n] = 0;
  return pclose(p);
}

static void exporter(char *out, size_t len) {
  const char *src = getenv("HS_SOURCE_DIR");
  snprintf(out, len, "%s/scripts/export_torch.py", src && *src ? src : "..");
}

Test(torch_export, exported_module_matches_pytorch) {
  const char *what = "export";
  char dir[256], path[600], cmd[3000], msg[4096], script[512];
  exporter(script, sizeof script);
  hs_torch_mkdtemp(dir, sizeof dir, "hs_torch_export", what);
  snprintf(path, sizeof path, "%s/net.py", dir);
  hs_torch_write_text(path, NET_PY, what);
  snprintf(cmd, sizeof cmd,
           "'%s' '%s' '%s/net.py' make --input-shape 1,8,8 --batchnorm-mode running --out-spec '%s/spec.json' "
           "--out-weights '%s/weights.safetensors' 2>&1",
           hs_torch_python(), script, dir, dir, dir);
  int rc = run(cmd, msg, sizeof msg);
  cr_assert_eq(rc, 0, "%s failed (%d):\n%s", cmd, rc, msg);

  hs_context *ctx = hs_test_ctx(HS_F64, 2);
  hs_model_spec *s = malloc(sizeof *s);
  snprintf(path, sizeof path, "%s/spec.json", dir);
  cr_assert_eq(hs_spec_load(ctx, path, s), HS_OK, "%s", hs_last_error(ctx));
  hs_model *m = NULL;
  cr_assert_eq(hs_model_create(ctx, s, &m), HS_OK, "%s", hs_last_error(ctx));
  snprintf(path, sizeof path, "%s/weights.safetensors", dir);
  cr_assert_eq(hs_model_load(m, path), HS_OK, "%s", hs_last_error(ctx));
  hs_dataset *d = hs_test_data(ctx, s, 10, 5);
  cr_assert_eq(hs_model_bind(m, d, 5), HS_OK, "%s", hs_last_error(ctx));
  size_t P = hs_model_num_params(m), K = 2;
  double loss, *g = malloc(P * sizeof *g), *V = hs_test_vec(K * P, 6), *HV = malloc(K * P * sizeof *HV);
  cr_assert_eq(hs_model_loss_grad(m, &loss, g), HS_OK, "%s", hs_last_error(ctx));
  cr_assert_eq(hs_model_hvp(m, HS_CURV_HESSIAN, K, V, HV), HS_OK, "%s", hs_last_error(ctx));
  hs_torch_write_data(ctx, dir, s, d, what);
  snprintf(path, sizeof path, "%s/case.json", dir);
  hs_torch_write_text(path, "{\"batch\": 5}\n", what);
  size_t vd[2] = {K, P};
  snprintf(path, sizeof path, "%s/V.npy", dir);
  cr_assert_eq(hs_npy_write_f64(ctx, path, HS_F64, V, 2, vd), HS_OK);
  hs_torch_run("reference.py", dir, what);
  int failed = 0;
  double *rl = hs_torch_read(ctx, dir, "loss.npy", 1, what), *rg = hs_torch_read(ctx, dir, "grad.npy", P, what);
  double *rh = hs_torch_read(ctx, dir, "hvp.npy", K * P, what);
  failed |= hs_torch_compare(what, "loss", &loss, rl, 1, TOL);
  failed |= hs_torch_compare(what, "gradient", g, rg, P, TOL);
  failed |= hs_torch_compare(what, "HV", HV, rh, K * P, TOL);

  /* refused by name, nothing written */
  snprintf(cmd, sizeof cmd,
           "'%s' '%s' '%s/net.py' bad --input-shape 4 --out-spec '%s/bad.json' --out-weights '%s/bad.safetensors' 2>&1",
           hs_torch_python(), script, dir, dir, dir);
  rc = run(cmd, msg, sizeof msg);
  cr_expect(WIFEXITED(rc) && WEXITSTATUS(rc) == 2, "unsupported module: exit status %d, want 2:\n%s", rc, msg);
  cr_expect(strstr(msg, "Dropout") != NULL, "the message does not name the module:\n%s", msg);
  snprintf(path, sizeof path, "%s/bad.json", dir);
  cr_expect(access(path, F_OK) != 0, "a refused export left %s", path);
  snprintf(path, sizeof path, "%s/bad.safetensors", dir);
  cr_expect(access(path, F_OK) != 0, "a refused export left %s", path);

  hs_torch_cleanup(dir, failed, what);
  free(rl); free(rg); free(rh); free(g); free(V); free(HV); free(s);
  hs_model_destroy(m);
  hs_dataset_destroy(d);
  hs_context_destroy(ctx);
}

int main(int argc, char *argv[]) { return hs_torch_main("torch_export", "reference.py", argc, argv); }
