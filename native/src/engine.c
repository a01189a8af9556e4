/* The bundle's .tflite files through LiteRT's CompiledModel C API (runtime/backends/tflite.py):
   the serving_default signature, names checked against the role (runtime/bundle.py check_graph),
   a dynamic batch resized per call or a fixed one fed in pieces, integer I/O quantized and
   dequantized at the edges with LiteRT's rounding. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

size_t element_size(LiteRtElementType t) {
  switch (t) {
    case kLiteRtElementTypeFloat32:
    case kLiteRtElementTypeInt32: return 4;
    case kLiteRtElementTypeInt16:
    case kLiteRtElementTypeFloat16: return 2;
    case kLiteRtElementTypeInt8:
    case kLiteRtElementTypeUInt8:
    case kLiteRtElementTypeBool: return 1;
    case kLiteRtElementTypeInt64: return 8;
    default: return 0;
  }
}

static const char* type_name(LiteRtElementType t) {
  switch (t) {
    case kLiteRtElementTypeFloat32: return "float32";
    case kLiteRtElementTypeInt32: return "int32";
    case kLiteRtElementTypeInt16: return "int16";
    case kLiteRtElementTypeInt8: return "int8";
    case kLiteRtElementTypeUInt8: return "uint8";
    case kLiteRtElementTypeFloat16: return "float16";
    case kLiteRtElementTypeInt64: return "int64";
    case kLiteRtElementTypeBool: return "bool";
    default: return "unknown";
  }
}

void host_tensor_free(host_tensor* t) {
  free(t->data);
  t->data = NULL;
  t->rows = 0;
}

s2s_status engine_env(LiteRtEnvironment* env, s2s_error** err) {
  /* CPU only: without this option LiteRT probes for GPU and NPU libraries as it starts. */
  /* LiteRT's own log: errors only (its INFO lines would go to the caller's stderr) */
  LiteRtEnvOption options[2];
  memset(options, 0, sizeof options);
  options[0].tag = kLiteRtEnvOptionTagAutoRegisterAccelerators;
  options[0].value.type = kLiteRtAnyTypeInt;
  options[0].value.value.int_value = kLiteRtHwAcceleratorCpu;
  options[1].tag = kLiteRtEnvOptionTagMinLoggerSeverity;
  options[1].value.type = kLiteRtAnyTypeInt;
  options[1].value.value.int_value = 3; /* kLiteRtLogSeverityError */
  LiteRtStatus s = LiteRtCreateEnvironment(2, options, env);
  if (s != kLiteRtStatusOk) return set_error(err, S2S_ERROR_ENGINE, "LiteRT's environment cannot be created (status %d)", s);
  return S2S_OK;
}

/* The tensors of each role, in the manifest's io order, and their axes after the batch. */
enum axis { AX_TIME, AX_LATENT, AX_VOCAB };
typedef struct tensor_spec {
  const char* name;
  int ids;
  int n_axes; /* after batch */
  enum axis axes[2];
  const char* axes_text;
} tensor_spec;

static const tensor_spec SPECS[] = {
    {"source_ids", 1, 1, {AX_TIME}, "batch, time"},
    {"token_ids", 1, 0, {AX_TIME}, "batch"},
    {"state_h", 0, 1, {AX_LATENT}, "batch, latent"},
    {"state_c", 0, 1, {AX_LATENT}, "batch, latent"},
    {"next_state_h", 0, 1, {AX_LATENT}, "batch, latent"},
    {"next_state_c", 0, 1, {AX_LATENT}, "batch, latent"},
    {"memory_keys", 0, 2, {AX_TIME, AX_LATENT}, "batch, time, latent"},
    {"memory_values", 0, 2, {AX_TIME, AX_LATENT}, "batch, time, latent"},
    {"memory_mask", 0, 1, {AX_TIME}, "batch, time"},
    {"logits", 0, 1, {AX_VOCAB}, "batch, vocab"},
};

static const tensor_spec* spec_of(const char* name) {
  for (size_t i = 0; i < sizeof SPECS / sizeof *SPECS; i++)
    if (strcmp(SPECS[i].name, name) == 0) return &SPECS[i];
  return NULL;
}

static int axis_size(const graph* g, enum axis a) { return a == AX_TIME ? g->time : a == AX_LATENT ? g->latent : g->vocab; }

size_t row_elements(const graph* g, const char* name) {
  const tensor_spec* s = spec_of(name);
  size_t n = 1;
  for (int i = 0; s && i < s->n_axes; i++) n *= (size_t)axis_size(g, s->axes[i]);
  return n;
}

static s2s_status read_tensor(LiteRtTensor t, const char* name, tensor_info* info, s2s_error** err) {
  memset(info, 0, sizeof *info);
  info->name = s2s_strdup(name);
  if (!info->name) return set_error(err, S2S_ERROR_MEMORY, "out of memory");
  LiteRtTensorTypeId id;
  if (LiteRtGetTensorTypeId(t, &id) != kLiteRtStatusOk)
    return set_error(err, S2S_ERROR_ENGINE, "LiteRT cannot read the type of tensor %s", name);
  if (id == kLiteRtRankedTensorType) {
    LiteRtRankedTensorType rt;
    memset(&rt, 0, sizeof rt);
    if (LiteRtGetRankedTensorType(t, &rt) != kLiteRtStatusOk)
      return set_error(err, S2S_ERROR_ENGINE, "LiteRT cannot read the shape of tensor %s", name);
    info->type = rt.element_type;
    info->ranked = 1;
    info->rank = (int)rt.layout.rank;
    for (int i = 0; i < info->rank && i < LITERT_TENSOR_MAX_RANK; i++) info->dims[i] = rt.layout.dimensions[i];
  } else {
    LiteRtUnrankedTensorType ut;
    memset(&ut, 0, sizeof ut);
    if (LiteRtGetUnrankedTensorType(t, &ut) != kLiteRtStatusOk)
      return set_error(err, S2S_ERROR_ENGINE, "LiteRT cannot read the type of tensor %s", name);
    info->type = ut.element_type;
  }
  LiteRtQuantizationTypeId q;
  if ((info->type == kLiteRtElementTypeInt8 || info->type == kLiteRtElementTypeInt16) &&
      LiteRtGetQuantizationTypeId(t, &q) == kLiteRtStatusOk && q == kLiteRtQuantizationPerTensor) {
    LiteRtQuantizationPerTensor pt;
    memset(&pt, 0, sizeof pt);
    if (LiteRtGetPerTensorQuantization(t, &pt) == kLiteRtStatusOk && pt.scale != 0.0f) {
      info->quantized = 1;
      info->scale = pt.scale;
      info->zero_point = pt.zero_point;
    }
  }
  return S2S_OK;
}

static int cmp_cstr(const void* a, const void* b) { return strcmp(*(const char* const*)a, *(const char* const*)b); }

static void sorted_names(const tensor_info* t, size_t n, strbuf* sb) {
  const char* names[MAX_IO];
  for (size_t i = 0; i < n; i++) names[i] = t[i].name;
  qsort(names, n, sizeof *names, cmp_cstr);
  for (size_t i = 0; i < n; i++) {
    if (i) sb_puts(sb, ", ");
    sb_puts(sb, names[i]);
  }
  if (!n) sb_puts(sb, "none");
}

/* runtime/bundle.py check_graph, with the TFLite backend's float types (integer I/O allowed) */
static s2s_status check_graph(const graph* g, const manifest* m, const char* file, const char* role, s2s_error** err) {
  int att = m->family == FAMILY_ATTENTION;
  static const char* const seed_enc_out[] = {"state_h", "state_c"};
  static const char* const att_enc_out[] = {"state_h", "state_c", "memory_keys", "memory_values", "memory_mask"};
  static const char* const seed_step_in[] = {"token_ids", "state_h", "state_c"};
  static const char* const att_step_in[] = {"token_ids", "state_h", "state_c", "memory_keys", "memory_values", "memory_mask"};
  static const char* const step_out[] = {"logits", "next_state_h", "next_state_c"};
  static const char* const source_in[] = {"source_ids"};
  int encoder = strcmp(role, "encoder") == 0;
  const char* const* want[2] = {encoder ? source_in : (att ? att_step_in : seed_step_in),
                                encoder ? (att ? att_enc_out : seed_enc_out) : step_out};
  size_t n_want[2] = {encoder ? 1 : (att ? 6 : 3), encoder ? (att ? 5 : 2) : 3};
  const tensor_info* have[2] = {g->in, g->out};
  size_t n_have[2] = {g->n_in, g->n_out};
  const char* sides[2] = {"inputs", "outputs"};
  const char* family = att ? "attention" : "seed";
  for (int k = 0; k < 2; k++) {
    int same = n_have[k] == n_want[k];
    for (size_t i = 0; same && i < n_want[k]; i++) {
      int found = 0;
      for (size_t j = 0; j < n_have[k]; j++) found |= strcmp(have[k][j].name, want[k][i]) == 0;
      same = found;
    }
    if (!same) {
      strbuf a, b;
      sb_init(&a);
      sb_init(&b);
      sorted_names(have[k], n_have[k], &a);
      for (size_t i = 0; i < n_want[k]; i++) {
        if (i) sb_puts(&b, ", ");
        sb_puts(&b, want[k][i]);
      }
      s2s_status st = set_error(err, S2S_ERROR_BUNDLE,
                                "%s, listed as the %s of the %s family, does not fit its role: its %s are %s; that role's "
                                "%s are %s",
                                file, role, family, sides[k], a.data ? a.data : "", sides[k], b.data ? b.data : "");
      sb_free(&a);
      sb_free(&b);
      return st;
    }
  }
  for (int k = 0; k < 2; k++)
    for (size_t i = 0; i < n_want[k]; i++) {
      const tensor_info* t = NULL;
      for (size_t j = 0; j < n_have[k]; j++)
        if (strcmp(have[k][j].name, want[k][i]) == 0) t = &have[k][j];
      const tensor_spec* s = spec_of(t->name);
      int ok = s->ids ? t->type == kLiteRtElementTypeInt32
                      : (t->type == kLiteRtElementTypeFloat32 || t->type == kLiteRtElementTypeInt8 ||
                         t->type == kLiteRtElementTypeInt16);
      if (!ok)
        return set_error(err, S2S_ERROR_BUNDLE, "%s, listed as the %s of the %s family, does not fit its role: its %s is %s, not %s",
                         file, role, family, t->name, type_name(t->type), s->ids ? "int32" : "float32 or int8 or int16");
      if (!t->ranked) continue;
      if (t->rank != s->n_axes + 1)
        return set_error(err, S2S_ERROR_BUNDLE,
                         "%s, listed as the %s of the %s family, does not fit its role: its %s has %d axes, not %d ([%s])",
                         file, role, family, t->name, t->rank, s->n_axes + 1, s->axes_text);
      for (int a = 0; a < s->n_axes; a++) {
        int have_size = t->dims[a + 1], want_size = axis_size(g, s->axes[a]);
        if (have_size <= 0 || have_size == want_size) continue;
        const char* fmt = s->axes[a] == AX_TIME     ? "reads %d source positions, but max_source_length is %d"
                          : s->axes[a] == AX_LATENT ? "has %d units, but latent_dim is %d"
                                                    : "scores %d ids, but target_vocab has %d characters";
        char what[160];
        snprintf(what, sizeof what, fmt, have_size, want_size);
        return set_error(err, S2S_ERROR_BUNDLE, "%s, listed as the %s of the %s family, does not fit this manifest: its %s %s",
                         file, role, family, t->name, what);
      }
    }
  return S2S_OK;
}

int graph_input_index(const graph* g, const char* name) {
  for (size_t i = 0; i < g->n_in; i++)
    if (strcmp(g->in[i].name, name) == 0) return (int)i;
  return -1;
}

int graph_output_index(const graph* g, const char* name) {
  for (size_t i = 0; i < g->n_out; i++)
    if (strcmp(g->out[i].name, name) == 0) return (int)i;
  return -1;
}

s2s_status graph_load(graph* g, LiteRtEnvironment env, unsigned char* bytes, size_t n, const char* file,
                      const char* role, const manifest* m, const char* kernels, int threads, s2s_error** err) {
  memset(g, 0, sizeof *g);
  g->bytes = bytes; /* the model reads from these bytes: kept until graph_free */
  g->n_bytes = n;
  g->time = m->max_source_length;
  g->latent = m->latent_dim;
  g->vocab = (int)m->target.size;
  LiteRtStatus s = LiteRtCreateModelFromBuffer(env, bytes, n, &g->model);
  if (s != kLiteRtStatusOk)
    return set_error(err, S2S_ERROR_BUNDLE, "the %s .tflite model cannot be loaded: LiteRT status %d (%s)", role, s, file);
  LiteRtParamIndex n_sig = 0;
  LiteRtGetNumModelSignatures(g->model, &n_sig);
  LiteRtSignature sig = NULL;
  for (LiteRtParamIndex i = 0; i < n_sig; i++) {
    LiteRtSignature candidate;
    const char* key = NULL;
    if (LiteRtGetModelSignature(g->model, i, &candidate) != kLiteRtStatusOk) continue;
    LiteRtGetSignatureKey(candidate, &key);
    if ((key && strcmp(key, "serving_default") == 0) || (n_sig == 1)) {
      sig = candidate;
      g->signature = i;
      if (key && strcmp(key, "serving_default") == 0) break;
    }
  }
  if (!sig)
    return set_error(err, S2S_ERROR_BUNDLE, "the %s .tflite model cannot be loaded: it has no serving_default signature (%s)",
                     role, file);
  LiteRtParamIndex ni = 0, no = 0;
  LiteRtGetNumSignatureInputs(sig, &ni);
  LiteRtGetNumSignatureOutputs(sig, &no);
  if (ni > MAX_IO || no > MAX_IO)
    return set_error(err, S2S_ERROR_BUNDLE, "%s, listed as the %s, has %zu inputs and %zu outputs: too many for its role", file,
                     role, (size_t)ni, (size_t)no);
  for (LiteRtParamIndex i = 0; i < ni; i++) {
    const char* name = NULL;
    LiteRtTensor t;
    if (LiteRtGetSignatureInputName(sig, i, &name) != kLiteRtStatusOk ||
        LiteRtGetSignatureInputTensorByIndex(sig, i, &t) != kLiteRtStatusOk)
      return set_error(err, S2S_ERROR_ENGINE, "LiteRT cannot read the inputs of %s", file);
    s2s_status st = read_tensor(t, name, &g->in[g->n_in++], err);
    if (st) return st;
  }
  for (LiteRtParamIndex i = 0; i < no; i++) {
    const char* name = NULL;
    LiteRtTensor t;
    if (LiteRtGetSignatureOutputName(sig, i, &name) != kLiteRtStatusOk ||
        LiteRtGetSignatureOutputTensorByIndex(sig, i, &t) != kLiteRtStatusOk)
      return set_error(err, S2S_ERROR_ENGINE, "LiteRT cannot read the outputs of %s", file);
    s2s_status st = read_tensor(t, name, &g->out[g->n_out++], err);
    if (st) return st;
  }
  s2s_status st = check_graph(g, m, file, role, err);
  if (st) return st;
  /* the batch that the ids fix (runtime/backends/tflite.py _fixed_batch) */
  const tensor_info* ids = &g->in[graph_input_index(g, strcmp(role, "encoder") == 0 ? "source_ids" : "token_ids")];
  g->fixed_batch = ids->ranked && ids->rank >= 1 && ids->dims[0] > 0 ? ids->dims[0] : 0;
  /* LiteRT's built-in kernels on the CPU, or its default set (the XNNPACK delegate), and threads:
     the "xnnpack" opaque options' TOML payload (litert/c/options/litert_cpu_options.cc) */
  if ((s = LiteRtCreateOptions(&g->options)) != kLiteRtStatusOk ||
      (s = LiteRtSetOptionsHardwareAccelerators(g->options, kLiteRtHwAcceleratorCpu)) != kLiteRtStatusOk)
    return set_error(err, S2S_ERROR_ENGINE, "LiteRT's options cannot be created (status %d)", s);
  char* payload = strcmp(kernels, "builtin") == 0 ? s2s_printf("kernel_mode = \"builtin\"\nnum_threads = %d\n", threads)
                                                  : s2s_printf("num_threads = %d\n", threads);
  if (!payload) return set_error(err, S2S_ERROR_MEMORY, "out of memory");
  LiteRtOpaqueOptions opaque = NULL;
  if ((s = LiteRtCreateOpaqueOptions("xnnpack", payload, free, &opaque)) != kLiteRtStatusOk) {
    free(payload);
    return set_error(err, S2S_ERROR_ENGINE, "LiteRT's CPU options cannot be created (status %d)", s);
  }
  if ((s = LiteRtAddOpaqueOptions(g->options, opaque)) != kLiteRtStatusOk) {
    LiteRtDestroyOpaqueOptions(opaque);
    return set_error(err, S2S_ERROR_ENGINE, "LiteRT's CPU options cannot be set (status %d)", s);
  }
  if ((s = LiteRtCreateCompiledModel(env, g->model, g->options, &g->compiled)) != kLiteRtStatusOk)
    return set_error(err, S2S_ERROR_BUNDLE, "the %s .tflite model cannot be loaded: LiteRT cannot compile it (status %d, %s)",
                     role, s, file);
  return S2S_OK;
}

void graph_free(graph* g) {
  if (g->compiled) LiteRtDestroyCompiledModel(g->compiled);
  if (g->options) LiteRtDestroyOptions(g->options);
  if (g->model) LiteRtDestroyModel(g->model);
  for (size_t i = 0; i < g->n_in; i++) free(g->in[i].name);
  for (size_t i = 0; i < g->n_out; i++) free(g->out[i].name);
  free(g->bytes);
  memset(g, 0, sizeof *g);
}

/* LiteRT's QUANTIZE: x * (1 / scale) in float32, rounded half to even, plus the zero point, saturated */
static void quantize(const float* x, size_t n, const tensor_info* t, void* out) {
  float inv = 1.0f / t->scale;
  float lo = t->type == kLiteRtElementTypeInt8 ? -128.0f : -32768.0f;
  float hi = t->type == kLiteRtElementTypeInt8 ? 127.0f : 32767.0f;
  for (size_t i = 0; i < n; i++) {
    float q = nearbyintf(x[i] * inv) + (float)t->zero_point;
    q = q < lo ? lo : q > hi ? hi : q;
    if (isnan(q)) q = 0.0f;
    if (t->type == kLiteRtElementTypeInt8)
      ((int8_t*)out)[i] = (int8_t)q;
    else
      ((int16_t*)out)[i] = (int16_t)q;
  }
}

/* TFLite's DEQUANTIZE: (q - zero point) * scale in float32; an int8 or int16 tensor without
   quantization parameters as its integers (as numpy compares them) */
static void dequantize(const void* q, size_t n, const tensor_info* t, float* out) {
  float zp = t->quantized ? (float)t->zero_point : 0.0f, scale = t->quantized ? t->scale : 1.0f;
  for (size_t i = 0; i < n; i++) {
    float v = t->type == kLiteRtElementTypeInt8 ? (float)((const int8_t*)q)[i] : (float)((const int16_t*)q)[i];
    out[i] = (v - zp) * scale;
  }
}

static void fill_type(const graph* g, const char* name, LiteRtElementType type, size_t rows, LiteRtRankedTensorType* rt) {
  memset(rt, 0, sizeof *rt);
  rt->element_type = type;
  const tensor_spec* s = spec_of(name);
  rt->layout.rank = (unsigned)(1 + (s ? s->n_axes : 0));
  rt->layout.dimensions[0] = (int32_t)rows;
  for (int a = 0; s && a < s->n_axes; a++) rt->layout.dimensions[a + 1] = axis_size(g, s->axes[a]);
}

static s2s_status run_exact(graph* g, const host_tensor* inputs, size_t n_in, host_tensor* outputs, size_t n_out,
                            size_t rows, s2s_error** err) {
  s2s_status st = S2S_OK;
  LiteRtTensorBuffer in_bufs[MAX_IO] = {0}, out_bufs[MAX_IO] = {0};
  void* temps[MAX_IO] = {0};
  void* raw_out[MAX_IO] = {0};
  for (size_t k = 0; k < n_out; k++) outputs[k].data = NULL;
  if ((int)rows != g->resized_batch && !g->fixed_batch) {
    for (size_t i = 0; i < g->n_in; i++) {
      LiteRtRankedTensorType rt;
      fill_type(g, g->in[i].name, g->in[i].type, rows, &rt);
      int dims[LITERT_TENSOR_MAX_RANK];
      for (unsigned k = 0; k < rt.layout.rank; k++) dims[k] = rt.layout.dimensions[k];
      LiteRtStatus s = LiteRtCompiledModelResizeInputTensor(g->compiled, g->signature, i, dims, rt.layout.rank);
      if (s != kLiteRtStatusOk) {
        st = set_error(err, S2S_ERROR_ENGINE, "LiteRT cannot resize %s to a batch of %zu (status %d)", g->in[i].name, rows, s);
        goto done;
      }
    }
    g->resized_batch = (int)rows;
  }
  for (size_t i = 0; i < g->n_in; i++) {
    const tensor_info* t = &g->in[i];
    const host_tensor* h = NULL;
    for (size_t k = 0; k < n_in; k++)
      if (strcmp(inputs[k].name, t->name) == 0) h = &inputs[k];
    if (!h) {
      st = set_error(err, S2S_ERROR_ENGINE, "internal error: no value for input %s", t->name);
      goto done;
    }
    size_t elems = rows * row_elements(g, t->name);
    void* data = h->data;
    if (h->type != t->type) {
      if (!(h->type == kLiteRtElementTypeFloat32 && t->quantized)) {
        st = set_error(err, S2S_ERROR_ENGINE, "internal error: input %s is %s, not %s", t->name, type_name(h->type),
                       type_name(t->type));
        goto done;
      }
      if (!(temps[i] = aligned_zalloc(elems * element_size(t->type)))) {
        st = set_error(err, S2S_ERROR_MEMORY, "out of memory");
        goto done;
      }
      quantize((const float*)h->data, elems, t, temps[i]);
      data = temps[i];
    }
    LiteRtRankedTensorType rt;
    fill_type(g, t->name, t->type, rows, &rt);
    LiteRtStatus s = LiteRtCreateTensorBufferFromHostMemory(&rt, data, elems * element_size(t->type), NULL, &in_bufs[i]);
    if (s != kLiteRtStatusOk) {
      st = set_error(err, S2S_ERROR_ENGINE, "LiteRT cannot take the input %s (status %d)", t->name, s);
      goto done;
    }
  }
  for (size_t i = 0; i < g->n_out; i++) {
    const tensor_info* t = &g->out[i];
    /* sized from the batch run here, never from the layout LiteRT reports */
    size_t elems = rows * row_elements(g, t->name);
    if (!(raw_out[i] = aligned_zalloc(elems * element_size(t->type)))) {
      st = set_error(err, S2S_ERROR_MEMORY, "out of memory");
      goto done;
    }
    LiteRtRankedTensorType rt;
    fill_type(g, t->name, t->type, rows, &rt);
    LiteRtStatus s = LiteRtCreateTensorBufferFromHostMemory(&rt, raw_out[i], elems * element_size(t->type), NULL, &out_bufs[i]);
    if (s != kLiteRtStatusOk) {
      st = set_error(err, S2S_ERROR_ENGINE, "LiteRT cannot take the output %s (status %d)", t->name, s);
      goto done;
    }
  }
  LiteRtStatus s = LiteRtRunCompiledModel(g->compiled, g->signature, g->n_in, in_bufs, g->n_out, out_bufs);
  if (s != kLiteRtStatusOk) {
    st = set_error(err, S2S_ERROR_ENGINE, "LiteRT failed to run the model (status %d)", s);
    goto done;
  }
  for (size_t k = 0; k < n_out; k++) {
    int i = graph_output_index(g, outputs[k].name);
    const tensor_info* t = &g->out[i];
    size_t per_row = row_elements(g, t->name);
    outputs[k].rows = rows;
    outputs[k].row_elems = per_row;
    /* a float tensor the file holds as integers is handed out as float32 (the caller reads floats),
       unless asked for the file's integers */
    int integer_float = !spec_of(t->name)->ids && (t->type == kLiteRtElementTypeInt8 || t->type == kLiteRtElementTypeInt16);
    if (integer_float && !(t->quantized && outputs[k].keep_integer)) {
      float* f = aligned_zalloc(rows * per_row * sizeof(float));
      if (!f) {
        st = set_error(err, S2S_ERROR_MEMORY, "out of memory");
        goto done;
      }
      dequantize(raw_out[i], rows * per_row, t, f);
      outputs[k].type = kLiteRtElementTypeFloat32;
      outputs[k].data = f;
    } else {
      outputs[k].type = t->type;
      outputs[k].data = raw_out[i];
      raw_out[i] = NULL;
    }
  }
done:
  if (st) /* a failed run hands out nothing */
    for (size_t k = 0; k < n_out; k++) host_tensor_free(&outputs[k]);
  for (size_t i = 0; i < MAX_IO; i++) {
    if (in_bufs[i]) LiteRtDestroyTensorBuffer(in_bufs[i]);
    if (out_bufs[i]) LiteRtDestroyTensorBuffer(out_bufs[i]);
    free(temps[i]);
    free(raw_out[i]);
  }
  return st;
}

s2s_status graph_run(graph* g, const host_tensor* inputs, size_t n_in, host_tensor* outputs, size_t n_out, size_t rows,
                     s2s_error** err) {
  for (size_t k = 0; k < n_out; k++) outputs[k].data = NULL;
  if (!g->fixed_batch || rows == (size_t)g->fixed_batch || rows == 0)
    return run_exact(g, inputs, n_in, outputs, n_out, rows, err);
  /* A fixed batch: pieces of exactly that many rows, the last filled up with copies of its last row. */
  size_t fixed = (size_t)g->fixed_batch;
  s2s_status st = S2S_OK;
  host_tensor piece_in[MAX_IO];
  host_tensor piece_out[MAX_IO];
  memset(piece_in, 0, sizeof piece_in);
  for (size_t k = 0; k < n_out; k++) outputs[k].rows = 0;
  for (size_t start = 0; start < rows && !st; start += fixed) {
    for (size_t k = 0; k < n_in && !st; k++) {
      size_t row_bytes = inputs[k].row_elems * element_size(inputs[k].type);
      piece_in[k] = inputs[k];
      piece_in[k].rows = fixed;
      piece_in[k].data = aligned_zalloc(fixed * row_bytes);
      if (!piece_in[k].data) {
        st = set_error(err, S2S_ERROR_MEMORY, "out of memory");
        break;
      }
      for (size_t r = 0; r < fixed; r++) {
        size_t from = start + r < rows ? start + r : rows - 1;
        memcpy((char*)piece_in[k].data + r * row_bytes, (const char*)inputs[k].data + from * row_bytes, row_bytes);
      }
    }
    if (!st) {
      for (size_t k = 0; k < n_out; k++) {
        piece_out[k] = outputs[k];
        piece_out[k].data = NULL;
      }
      st = run_exact(g, piece_in, n_in, piece_out, n_out, fixed, err);
    }
    for (size_t k = 0; k < n_in; k++) {
      free(piece_in[k].data);
      piece_in[k].data = NULL;
    }
    if (st) break;
    size_t take = rows - start < fixed ? rows - start : fixed;
    for (size_t k = 0; k < n_out; k++) { /* every piece freed, even after a failure */
      size_t row_bytes = piece_out[k].row_elems * element_size(piece_out[k].type);
      if (!st && !outputs[k].data) {
        outputs[k].type = piece_out[k].type;
        outputs[k].row_elems = piece_out[k].row_elems;
        outputs[k].rows = rows;
        outputs[k].data = aligned_zalloc(rows * row_bytes);
        if (!outputs[k].data) st = set_error(err, S2S_ERROR_MEMORY, "out of memory");
      }
      if (!st) memcpy((char*)outputs[k].data + start * row_bytes, piece_out[k].data, take * row_bytes);
      free(piece_out[k].data);
    }
  }
  if (st)
    for (size_t k = 0; k < n_out; k++) host_tensor_free(&outputs[k]);
  return st;
}
