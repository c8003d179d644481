/* hs_abi_sizeof: the sizes of the public structs, for bindings that mirror them (the Python
 * package checks its ctypes layouts against these when it loads the library). */
#include <string.h>

#include "hesspec.h"

static const struct {
  const char *name;
  size_t size;
} public_structs[] = {
    {"hs_context_options", sizeof(hs_context_options)},
    {"hs_shape", sizeof(hs_shape)},
    {"hs_layer_spec", sizeof(hs_layer_spec)},
    {"hs_model_spec", sizeof(hs_model_spec)},
    {"hs_param_info", sizeof(hs_param_info)},
    {"hs_norm_info", sizeof(hs_norm_info)},
    {"hs_array", sizeof(hs_array)},
    {"hs_run_info", sizeof(hs_run_info)},
    {"hs_spectrum_options", sizeof(hs_spectrum_options)},
    {"hs_density_summary", sizeof(hs_density_summary)},
    {"hs_plot_line", sizeof(hs_plot_line)},
    {"hs_plot_style", sizeof(hs_plot_style)},
    {"hs_eigen_options", sizeof(hs_eigen_options)},
    {"hs_eigen_result", sizeof(hs_eigen_result)},
    {"hs_trace_est_options", sizeof(hs_trace_est_options)},
    {"hs_trace_est", sizeof(hs_trace_est)},
    {"hs_train_config", sizeof(hs_train_config)},
    {"hs_train_record", sizeof(hs_train_record)},
    {"hs_train_log", sizeof(hs_train_log)},
    {"hs_landscape_options", sizeof(hs_landscape_options)},
    {"hs_landscape_result", sizeof(hs_landscape_result)},
    {"hs_landscape_provenance", sizeof(hs_landscape_provenance)},
    {"hs_critical_options", sizeof(hs_critical_options)},
    {"hs_critical_result", sizeof(hs_critical_result)},
    {"hs_linear_optimum_result", sizeof(hs_linear_optimum_result)},
    {"hs_index_options", sizeof(hs_index_options)},
    {"hs_hessian_index", sizeof(hs_hessian_index)},
    {"hs_critical_study_options", sizeof(hs_critical_study_options)},
    {"hs_critical_study", sizeof(hs_critical_study)},
    {"hs_compare_summary", sizeof(hs_compare_summary)},
    {"hs_setting", sizeof(hs_setting)},
    {"hs_setting_choice", sizeof(hs_setting_choice)},
};

size_t hs_abi_sizeof(const char *type) {
  for (size_t i = 0; type && i < sizeof public_structs / sizeof *public_structs; i++)
    if (strcmp(public_structs[i].name, type) == 0) return public_structs[i].size;
  return 0;
}
