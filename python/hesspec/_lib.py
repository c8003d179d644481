"""ctypes declarations of include/hesspec.h (the public header only) and the library loader.

The structures below mirror the header's field by field; ctypes lays them out by the platform's C
rules, as the compiler does. A change of a struct in the header must be made here too
(python/tests/test_model.py checks what the *_defaults() functions return against the header).
"""
import ctypes as C
import glob
import os
import threading

from ._errors import Error, INVALID, STATUS_NAMES

c_size = C.c_size_t
c_dbl = C.c_double
P_dbl = C.POINTER(C.c_double)

HS_F64, HS_F32 = 0, 1
CURVATURE = {"hessian": 0, "ggn": 1, "residual": 2}
HS_E_CANCELLED = 8


class ContextOptions(C.Structure):
    _fields_ = [("device", C.c_char_p), ("dtype", C.c_int), ("threads", C.c_int), ("tf32", C.c_int),
                ("cache_mb", c_size), ("rstate_mb", c_size), ("conv_mb", c_size), ("data_dir", C.c_char_p),
                ("rank", C.c_int), ("ranks", C.c_int), ("allreduce", C.c_void_p), ("allreduce_user", C.c_void_p)]


class ParamInfo(C.Structure):
    _fields_ = [("name", C.c_char_p), ("offset", c_size), ("rows", C.c_int), ("cols", C.c_int),
                ("ndim", C.c_int), ("shape", C.c_int * 4)]


class NormInfo(C.Structure):
    _fields_ = [("name", C.c_char_p), ("features", C.c_int)]


class SpecHead(C.Structure):
    """The first fields of hs_model_spec (the rest is not needed here)."""
    _fields_ = [("form", C.c_int), ("input_dim", C.c_int), ("n_hidden", C.c_int), ("hidden", C.c_int * 64),
                ("output_dim", C.c_int)]


class SpectrumOptions(C.Structure):
    _fields_ = [("steps", c_size), ("probes", c_size), ("seed", C.c_uint64), ("sigma", c_dbl),
                ("grid_points", c_size), ("grid_min", c_dbl), ("grid_max", c_dbl), ("neg_tol", c_dbl),
                ("partial_reorth", C.c_int), ("weights", C.c_char_p), ("data", C.c_char_p),
                ("part", c_size), ("parts", c_size), ("allgather", C.c_void_p), ("allgather_user", C.c_void_p)]


class RunInfo(C.Structure):
    _fields_ = [("weights", C.c_char_p), ("data", C.c_char_p), ("elapsed", c_dbl), ("seed", C.c_uint64)]


class DensitySummary(C.Structure):
    _fields_ = [("params", c_size), ("probes", c_size), ("steps", c_size), ("seed", C.c_uint64),
                ("sigma", c_dbl), ("lambda_min", c_dbl), ("lambda_max", c_dbl), ("trace", c_dbl),
                ("trace_stderr", c_dbl), ("negative_fraction", c_dbl), ("negative_fraction_stderr", c_dbl),
                ("negative_tolerance", c_dbl), ("negative_fraction_bounds", c_dbl * 2), ("grid_integral", c_dbl),
                ("early_terminated_probes", c_size), ("operator_applications", c_size),
                ("operator_seconds", c_dbl), ("reorth_seconds", c_dbl), ("host_seconds", c_dbl),
                ("total_seconds", c_dbl)]


class EigenOptions(C.Structure):
    _fields_ = [("which", C.c_int), ("count", c_size), ("tol", c_dbl), ("max_steps", c_size),
                ("seed", C.c_uint64), ("vectors", C.c_int), ("exact_limit", c_size)]


class EigenResult(C.Structure):
    _fields_ = [("n", c_size), ("requested", c_size), ("found", c_size), ("values", P_dbl),
                ("residuals", P_dbl), ("vectors", P_dbl), ("tol", c_dbl), ("anorm", c_dbl),
                ("asymmetry", c_dbl), ("steps", c_size), ("operator_applications", c_size),
                ("operator_seconds", c_dbl), ("total_seconds", c_dbl)]


class TraceOptions(C.Structure):
    _fields_ = [("probes", c_size), ("seed", C.c_uint64), ("block", c_size), ("method", C.c_int),
                ("part", c_size), ("parts", c_size), ("allgather", C.c_void_p), ("allgather_user", C.c_void_p)]


class TraceResult(C.Structure):
    _fields_ = [("n", c_size), ("probes", c_size), ("trace", c_dbl), ("trace_stderr", c_dbl),
                ("samples", P_dbl), ("nsamples", c_size), ("sketch_rank", c_size), ("sketch_trace", c_dbl),
                ("operator_applications", c_size), ("operator_seconds", c_dbl), ("total_seconds", c_dbl)]


class TrainConfig(C.Structure):
    _fields_ = [("optimizer", C.c_int), ("lr", c_dbl), ("momentum", c_dbl), ("dampening", c_dbl),
                ("nesterov", C.c_int), ("beta1", c_dbl), ("beta2", c_dbl), ("eps", c_dbl),
                ("weight_decay", c_dbl), ("schedule", C.c_int), ("lr_min", c_dbl), ("epochs", c_size),
                ("batch", c_size), ("seed", C.c_uint64), ("bn_momentum", c_dbl), ("eval_batch", c_size),
                ("checkpoint_dir", C.c_char_p), ("save_epochs", c_size * 64), ("n_save", c_size),
                ("checkpoint_dtype", C.c_int), ("keep_last", C.c_int), ("log_path", C.c_char_p),
                ("resume", C.c_char_p), ("curvature_every", c_size), ("curvature_samples", c_size),
                ("overlap_k", c_size), ("curvature_path", C.c_char_p), ("on_epoch", C.c_void_p),
                ("on_epoch_user", C.c_void_p)]


class TrainRecord(C.Structure):
    _fields_ = [("epoch", c_size), ("loss", c_dbl), ("accuracy", c_dbl), ("test_loss", c_dbl),
                ("test_accuracy", c_dbl), ("lr", c_dbl), ("seconds", c_dbl)]


class SettingChoice(C.Structure):
    _fields_ = [("name", C.c_char_p), ("value", C.c_int)]


class Setting(C.Structure):  # one entry of an option table (hs_setting)
    _fields_ = [("name", C.c_char_p), ("key", C.c_char_p), ("type", C.c_int), ("offset", c_size), ("size", c_size),
                ("bounds", C.c_int), ("min", c_dbl), ("max", c_dbl), ("flag_off", C.c_int),
                ("choices", C.POINTER(SettingChoice)), ("parse", C.c_void_p), ("list_max", c_size),
                ("count_offset", c_size), ("count_size", c_size), ("metavar", C.c_char_p), ("help", C.c_char_p)]


class CompareSummary(C.Structure):
    _fields_ = [("kinds", c_size), ("seeds", c_size), ("seconds", c_dbl), ("synthetic_fallback", C.c_int),
                ("findings", C.c_void_p)]  # a C string the library owns until hs_compare_summary_free


class TrainLog(C.Structure):
    _fields_ = [("n", c_size), ("records", C.POINTER(TrainRecord)), ("steps", C.c_uint64),
                ("curvature_measurements", c_size), ("curvature_seconds", c_dbl), ("training_seconds", c_dbl)]


class LandscapeOptions(C.Structure):
    _fields_ = [("dims", C.c_int), ("directions", C.c_int), ("d1", P_dbl), ("d2", P_dbl), ("seed", C.c_uint64),
                ("alpha", c_dbl * 2), ("beta", c_dbl * 2), ("points", c_size * 2)]


class LandscapeResult(C.Structure):
    _fields_ = [("dims", C.c_int), ("na", c_size), ("nb", c_size), ("params", c_size), ("alpha", P_dbl),
                ("beta", P_dbl), ("loss", P_dbl), ("accuracy", P_dbl), ("directions", P_dbl),
                ("eigenvalues", c_dbl * 2), ("seconds", c_dbl)]


class IndexOptions(C.Structure):
    _fields_ = [("exact_limit", c_size), ("tol", c_dbl), ("steps", c_size), ("probes", c_size), ("seed", C.c_uint64)]


class HessianIndex(C.Structure):
    _fields_ = [("exact", C.c_int), ("index", c_dbl), ("index_stderr", c_dbl), ("negative", c_size),
                ("params", c_size), ("negative_tol", c_dbl), ("lambda_min", c_dbl), ("lambda_max", c_dbl)]


class LandscapeProvenance(C.Structure):
    _fields_ = [("weights", C.c_char_p), ("data", C.c_char_p), ("label", C.c_char_p), ("to", C.c_char_p),
                ("files", C.c_char_p * 2), ("elapsed", c_dbl)]


class CriticalOptions(C.Structure):
    _fields_ = [("gtol", c_dbl), ("max_iter", c_size), ("minres_max", c_size), ("minres_rtol", c_dbl),
                ("theta", c_dbl), ("noise", c_dbl), ("seed", C.c_uint64), ("start", c_size)]


class CriticalResult(C.Structure):
    _fields_ = [("loss", c_dbl), ("grad_norm", c_dbl), ("grad_norm_start", c_dbl), ("iterations", c_size),
                ("converged", C.c_int), ("stop", C.c_char_p), ("history", P_dbl), ("minres_iterations", c_size),
                ("hvps", c_size), ("gradients", c_size), ("fallback_steps", c_size), ("seconds", c_dbl)]


class CriticalStudyOptions(C.Structure):
    _fields_ = [("newton", CriticalOptions), ("starts", c_size), ("index", IndexOptions),
                ("checkpoint_prefix", C.c_char_p), ("checkpoint_dtype", C.c_int), ("on_start", C.c_void_p),
                ("user", C.c_void_p)]


class CriticalStudy(C.Structure):
    _fields_ = [("starts", c_size), ("converged", c_size), ("points", C.POINTER(CriticalResult)),
                ("indices", C.POINTER(HessianIndex)), ("checkpoints", C.POINTER(C.c_char_p)), ("fit", C.c_int),
                ("alpha0", c_dbl), ("eps_c", c_dbl), ("rms", c_dbl)]


vp = C.c_void_p
PP = C.POINTER(C.c_void_p)
_SIGNATURES = {
    # name: (restype, argtypes); restype C.c_int = hs_status
    "hs_status_string": (C.c_char_p, [C.c_int]),
    "hs_context_defaults": (ContextOptions, []),
    "hs_context_create": (C.c_int, [C.POINTER(ContextOptions), PP]),
    "hs_context_destroy": (None, [vp]),
    "hs_last_error": (C.c_char_p, [vp]),
    "hs_set_progress": (None, [vp, vp, vp]),
    "hs_backend_name": (C.c_char_p, [vp]),
    "hs_device_name": (C.c_char_p, [vp]),
    "hs_spec_to_json": (vp, [vp]),
    "hs_model_create_json": (C.c_int, [vp, C.c_char_p, C.c_char_p, PP]),
    "hs_model_destroy": (None, [vp]),
    "hs_model_num_params": (c_size, [vp]),
    "hs_model_get_spec": (vp, [vp]),
    "hs_model_num_tensors": (c_size, [vp]),
    "hs_model_tensor": (C.POINTER(ParamInfo), [vp, c_size]),
    "hs_model_num_norms": (c_size, [vp]),
    "hs_model_norm": (C.POINTER(NormInfo), [vp, c_size]),
    "hs_model_init": (C.c_int, [vp, C.c_uint64]),
    "hs_model_get_params": (C.c_int, [vp, P_dbl]),
    "hs_model_set_params": (C.c_int, [vp, P_dbl]),
    "hs_model_get_running": (C.c_int, [vp, C.c_int, P_dbl, P_dbl]),
    "hs_model_set_running": (C.c_int, [vp, C.c_int, P_dbl, P_dbl]),
    "hs_model_load": (C.c_int, [vp, C.c_char_p]),
    "hs_model_save": (C.c_int, [vp, C.c_char_p, C.c_int]),
    "hs_dataset_create": (C.c_int, [vp, c_size, C.c_int, P_dbl, C.c_int, C.POINTER(C.c_int32), P_dbl, PP]),
    "hs_dataset_destroy": (None, [vp]),
    "hs_dataset_size": (c_size, [vp]),
    "hs_model_bind": (C.c_int, [vp, vp, c_size]),
    "hs_model_binding": (None, [vp, C.POINTER(c_size), C.POINTER(c_size)]),
    "hs_model_loss_grad": (C.c_int, [vp, P_dbl, P_dbl]),
    "hs_model_outputs": (C.c_int, [vp, P_dbl]),
    "hs_model_accuracy": (C.c_int, [vp, P_dbl]),
    "hs_model_hvp": (C.c_int, [vp, C.c_int, c_size, P_dbl, P_dbl]),
    "hs_operator_model": (C.c_int, [vp, C.c_int, PP]),
    "hs_operator_matrix": (C.c_int, [vp, c_size, P_dbl, c_dbl, PP]),
    "hs_operator_destroy": (None, [vp]),
    "hs_operator_size": (c_size, [vp]),
    "hs_operator_apply": (C.c_int, [vp, c_size, P_dbl, P_dbl]),
    "hs_spectrum_defaults": (SpectrumOptions, []),
    "hs_spectrum": (C.c_int, [vp, C.POINTER(SpectrumOptions), PP]),
    "hs_density_destroy": (None, [vp]),
    "hs_density_get_summary": (None, [vp, C.POINTER(DensitySummary)]),
    "hs_density_grid": (c_size, [vp, C.POINTER(P_dbl), C.POINTER(P_dbl), C.POINTER(P_dbl)]),
    "hs_density_probe": (c_size, [vp, c_size, C.POINTER(P_dbl), C.POINTER(P_dbl)]),
    "hs_density_save": (C.c_int, [vp, C.c_char_p]),
    "hs_density_load": (C.c_int, [vp, C.c_char_p, PP]),
    "hs_compare": (C.c_int, [vp, C.c_char_p, C.c_char_p, C.c_void_p, vp]),
    "hs_compare_config_new": (vp, []),
    "hs_compare_config_free": (None, [vp]),
    "hs_compare_config_load": (C.c_int, [vp, vp, C.c_char_p]),
    "hs_compare_config_set": (C.c_int, [vp, vp, C.c_char_p, C.c_char_p]),
    "hs_compare_config_get": (C.c_int, [vp, vp, C.c_char_p, C.POINTER(c_dbl)]),
    "hs_compare_run": (C.c_int, [vp, vp, C.c_char_p, C.c_void_p, vp, C.POINTER(CompareSummary)]),
    "hs_compare_summary_free": (None, [C.POINTER(CompareSummary)]),
    "hs_compare_config_settings": (C.POINTER(Setting), []),
    "hs_train_config_settings": (C.POINTER(Setting), []),
    "hs_setting_value_hint": (C.c_char_p, [C.POINTER(Setting), C.c_char_p, c_size]),
    "hs_dataset_open": (C.c_int, [vp, C.c_char_p, c_size, C.c_uint64, vp, PP, C.c_char_p, c_size]),
    "hs_operator_block": (C.c_int, [vp, C.c_char_p, PP]),
    "hs_operator_layers": (C.c_int, [vp, C.POINTER(c_size)]),
    "hs_operator_layer_name": (C.c_char_p, [vp, c_size]),
    "hs_density_combine": (C.c_int, [C.POINTER(vp), c_size, C.POINTER(SpectrumOptions), PP]),
    "hs_density_num_blocks": (c_size, [vp]),
    "hs_density_block": (vp, [vp, c_size]),
    "hs_density_block_name": (C.c_char_p, [vp]),
    "hs_eigen_save": (C.c_int, [vp, C.POINTER(EigenOptions), C.POINTER(EigenResult), C.POINTER(RunInfo), C.c_char_p,
                                C.c_char_p]),
    "hs_eigen_save_blocks": (C.c_int, [c_size, C.POINTER(vp), C.POINTER(EigenOptions), C.POINTER(EigenResult),
                                       C.POINTER(RunInfo), C.c_char_p]),
    "hs_trace_save": (C.c_int, [vp, C.POINTER(TraceOptions), C.POINTER(TraceResult), C.POINTER(RunInfo), C.c_char_p]),
    "hs_trace_save_blocks": (C.c_int, [c_size, C.POINTER(vp), C.POINTER(TraceOptions), C.POINTER(TraceResult),
                                       C.POINTER(RunInfo), C.c_char_p]),
    "hs_eigen_defaults": (EigenOptions, []),
    "hs_eigen": (C.c_int, [vp, C.POINTER(EigenOptions), C.POINTER(EigenResult)]),
    "hs_eigen_free": (None, [C.POINTER(EigenResult)]),
    "hs_trace_est_defaults": (TraceOptions, []),
    "hs_trace_estimate": (C.c_int, [vp, C.POINTER(TraceOptions), C.POINTER(TraceResult)]),
    "hs_trace_est_free": (None, [C.POINTER(TraceResult)]),
    "hs_train_config_defaults": (TrainConfig, []),
    "hs_train": (C.c_int, [vp, vp, vp, C.POINTER(TrainConfig), C.POINTER(TrainLog)]),
    "hs_train_log_free": (None, [C.POINTER(TrainLog)]),
    "hs_landscape_defaults": (LandscapeOptions, []),
    "hs_landscape": (C.c_int, [vp, C.POINTER(LandscapeOptions), C.POINTER(LandscapeResult)]),
    "hs_landscape_free": (None, [C.POINTER(LandscapeResult)]),
    "hs_landscape_save": (C.c_int, [vp, C.POINTER(LandscapeOptions), C.POINTER(LandscapeResult),
                                    C.POINTER(LandscapeProvenance), C.c_char_p]),
    "hs_landscape_plot": (C.c_int, [vp, C.POINTER(LandscapeResult), C.c_char_p, C.c_char_p]),
    "hs_critical_defaults": (CriticalOptions, []),
    "hs_critical": (C.c_int, [vp, C.POINTER(CriticalOptions), C.POINTER(CriticalResult)]),
    "hs_critical_free": (None, [C.POINTER(CriticalResult)]),
}

_lock = threading.Lock()
_lib = None
_libc = None


def _candidates():
    """Where libhesspec.so is looked for, in order (docs/python.md)."""
    env = os.environ.get("HESSPEC_LIBRARY")
    if env:
        return [("HESSPEC_LIBRARY", env)]
    here = os.path.dirname(os.path.abspath(__file__))
    out = [("beside the package", p) for p in sorted(glob.glob(os.path.join(here, "libhesspec.so*")))]
    repo = os.path.dirname(os.path.dirname(here))  # python/hesspec -> the repository
    out.append(("the build folder", os.path.join(repo, "build", "libhesspec.so")))
    return out


# The C structs mirrored above (SpecHead mirrors only the first fields of hs_model_spec).
_MIRRORS = {"hs_context_options": ContextOptions, "hs_param_info": ParamInfo, "hs_norm_info": NormInfo,
            "hs_spectrum_options": SpectrumOptions, "hs_density_summary": DensitySummary,
            "hs_eigen_options": EigenOptions, "hs_eigen_result": EigenResult, "hs_trace_est_options": TraceOptions,
            "hs_trace_est": TraceResult, "hs_train_config": TrainConfig, "hs_train_record": TrainRecord,
            "hs_train_log": TrainLog, "hs_landscape_options": LandscapeOptions,
            "hs_landscape_result": LandscapeResult, "hs_landscape_provenance": LandscapeProvenance,
            "hs_critical_options": CriticalOptions, "hs_critical_result": CriticalResult, "hs_run_info": RunInfo}


_SIGNATURES.update({
    "hs_index_defaults": (IndexOptions, []),
    "hs_model_index": (C.c_int, [vp, C.POINTER(IndexOptions), C.POINTER(HessianIndex)]),
    "hs_critical_study_defaults": (CriticalStudyOptions, []),
    "hs_critical_study_run": (C.c_int, [vp, C.POINTER(CriticalStudyOptions), C.POINTER(CriticalStudy)]),
    "hs_critical_study_free": (None, [C.POINTER(CriticalStudy)]),
    "hs_critical_study_save": (C.c_int, [vp, C.POINTER(CriticalStudyOptions), C.POINTER(CriticalStudy),
                                         C.POINTER(RunInfo), C.c_char_p]),
    "hs_critical_study_plot": (C.c_int, [vp, C.POINTER(CriticalStudy), C.c_char_p]),
})
_MIRRORS.update({"hs_index_options": IndexOptions, "hs_hessian_index": HessianIndex,
                 "hs_critical_study_options": CriticalStudyOptions, "hs_critical_study": CriticalStudy,
                 "hs_compare_summary": CompareSummary, "hs_setting": Setting, "hs_setting_choice": SettingChoice})


def _check_layouts(handle, path):
    """Every mirrored struct has the library's size: a package and a library from different
    versions fail here, naming the struct, instead of corrupting memory in a call."""
    handle.hs_abi_sizeof.restype, handle.hs_abi_sizeof.argtypes = c_size, [C.c_char_p]
    for name, cls in _MIRRORS.items():
        want = handle.hs_abi_sizeof(name.encode())
        if want != C.sizeof(cls):
            raise Error(INVALID, f"{path}: struct {name} is {want} bytes in the library but {C.sizeof(cls)} in "
                        "this package: they come from different versions of hesspec")


def lib():
    """The loaded library with its signatures declared (loaded on first use)."""
    global _lib, _libc
    with _lock:
        if _lib is not None:
            return _lib
        # libgomp reads OMP_WAIT_POLICY once, when it is loaded: passive waiting unless the user
        # chose otherwise, as the CLI does (spinning threads made shared machines 9x slower).
        # Without effect when torch (or anything else) loaded libgomp first.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        tried = []
        for where, path in _candidates():
            if not os.path.exists(path):
                tried.append(f"{path} ({where}: absent)")
                continue
            try:
                handle = C.CDLL(path)
            except OSError as e:
                tried.append(f"{path} ({where}: {e})")
                continue
            for name, (res, args) in _SIGNATURES.items():
                f = getattr(handle, name)
                f.restype, f.argtypes = res, args
            _check_layouts(handle, path)
            _libc = C.CDLL(None)
            _libc.free.argtypes = [vp]
            _libc.free.restype = None
            _lib = handle
            return _lib
        raise Error(INVALID, "libhesspec.so not found; set HESSPEC_LIBRARY to its path, or build it "
                    "(cmake --build build --target hesspec_shared). Tried: " + "; ".join(tried))


def take_string(ptr):
    """A malloc'ed C string of the library as str, freed."""
    if not ptr:
        raise Error(3, "out of memory")
    try:
        return C.string_at(ptr).decode()
    finally:
        _libc.free(ptr)


def status_name(st):
    return STATUS_NAMES.get(st, f"status {st}")
