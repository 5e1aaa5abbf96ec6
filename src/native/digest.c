/*
 * The two checksums on etcd-inspect's hot path, as a Node-API addon: CRC-32C over many WAL records
 * in one call (format/crc32c.ts crc32cBatch), and the value digest of its redacted output (the first 16 hex digits of a value's SHA-256,
 * format/digest.ts) as a Node-API addon. Node's crypto.hash spends ~0.6 µs per call outside the
 * hash itself (argument checks, an EVP context per call, a JS string back); a WAL line writer
 * hashes one small value per line, so that overhead was a third of a worker's time. This calls
 * the SHA-256 of the OpenSSL that Node itself links (SHA256_Init/Update/Final: the block
 * function, SHA-NI where the CPU has it, without the EVP fetch of OpenSSL 3's one-shot SHA256())
 * and writes the digits straight into the output buffer, one value per call or a whole chunk's
 * values per call. The JS fallback in format/digest.ts gives the same bytes.
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <openssl/sha.h>
#include <stdint.h>
#include <stddef.h>
#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <nmmintrin.h>
#define HAVE_SSE42_PATH 1
#endif

static const char HEX[] = "0123456789abcdef";

static void sha16(const uint8_t *p, size_t n, uint8_t *out) {
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256_CTX c;
  SHA256_Init(&c);
  SHA256_Update(&c, p, n);
  SHA256_Final(d, &c);
  for (int i = 0; i < 8; i++) {
    out[2 * i] = (uint8_t)HEX[d[i] >> 4];
    out[2 * i + 1] = (uint8_t)HEX[d[i] & 15];
  }
}

/*
 * CRC-32C as etcd's pkg/crc (Go's crc32.Update, Castagnoli): `prev` is the previous checksum.
 * SSE4.2's crc32 instruction where the CPU has it, else a byte table.
 */
static uint32_t table[256];
static int have_sse42 = 0;

static void crc_init(void) {
  for (uint32_t n = 0; n < 256; n++) {
    uint32_t c = n;
    for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
    table[n] = c;
  }
#ifdef HAVE_SSE42_PATH
  __builtin_cpu_init();
  have_sse42 = __builtin_cpu_supports("sse4.2");
#endif
}

static uint32_t crc_table(uint32_t prev, const uint8_t *p, size_t n) {
  uint32_t c = ~prev;
  while (n--) c = (c >> 8) ^ table[(c ^ *p++) & 0xff];
  return ~c;
}

#ifdef HAVE_SSE42_PATH
__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t prev, const uint8_t *p, size_t n) {
  uint64_t c = ~prev & 0xffffffffu;
  while (n >= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    c = _mm_crc32_u64(c, w);
    p += 8;
    n -= 8;
  }
  uint32_t c32 = (uint32_t)c;
  while (n--) c32 = _mm_crc32_u8(c32, *p++);
  return ~c32;
}
#endif

static uint32_t crc32c(uint32_t prev, const uint8_t *p, size_t n) {
#ifdef HAVE_SSE42_PATH
  if (have_sse42) return crc_hw(prev, p, n);
#endif
  return crc_table(prev, p, n);
}

/* A Uint8Array or Int32Array argument: its data and element count, or NULL after throwing. */
static void *typed(napi_env env, napi_value v, napi_typedarray_type want, size_t *len, const char *what) {
  bool is = false;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) {
    napi_throw_type_error(env, NULL, what);
    return NULL;
  }
  napi_typedarray_type t;
  void *data = NULL;
  if (napi_get_typedarray_info(env, v, &t, len, &data, NULL, NULL) != napi_ok || t != want) {
    napi_throw_type_error(env, NULL, what);
    return NULL;
  }
  /* an empty or detached array has no data pointer; nothing can be read from it anyway */
  static uint8_t none;
  return data != NULL ? data : (void *)&none;
}

static int u32(napi_env env, napi_value v, uint32_t *out) {
  if (napi_get_value_uint32(env, v, out) != napi_ok) {
    napi_throw_type_error(env, NULL, "etcd-inspect native: expected a number");
    return 0;
  }
  return 1;
}

/* The first `want` arguments into a[]; 0 after throwing `usage`. */
static int args(napi_env env, napi_callback_info info, size_t want, napi_value *a, const char *usage) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, a, NULL, NULL) != napi_ok || argc < want) {
    napi_throw_type_error(env, NULL, usage);
    return 0;
  }
  return 1;
}

/* sha16(src: Uint8Array, start, end, out: Uint8Array, at): the 16 digits of src[start, end) at out[at]. */
static napi_value Sha16(napi_env env, napi_callback_info info) {
  napi_value a[5];
  if (!args(env, info, 5, a, "sha16(src, start, end, out, at)")) return NULL;
  size_t n, on;
  uint32_t s, e, at;
  const uint8_t *src = typed(env, a[0], napi_uint8_array, &n, "sha16: src must be a Uint8Array");
  if (src == NULL || !u32(env, a[1], &s) || !u32(env, a[2], &e)) return NULL;
  uint8_t *out = typed(env, a[3], napi_uint8_array, &on, "sha16: out must be a Uint8Array");
  if (out == NULL || !u32(env, a[4], &at)) return NULL;
  if (s > e || e > n || (size_t)at + 16 > on) {
    napi_throw_range_error(env, NULL, "sha16: range outside the arrays");
    return NULL;
  }
  sha16(src + s, e - s, out + at);
  return NULL;
}

/*
 * The head of a batch call, (src: Uint8Array, jobs: Int32Array, count, ...): `width` ints a job, the
 * first two of each a range [start, end) of src. Every range is checked before any job runs.
 * Returns 0 after throwing.
 */
typedef struct {
  const uint8_t *src;
  size_t n;
  const int32_t *jobs;
  uint32_t count;
} batch;

static int batch_head(napi_env env, napi_value *a, size_t width, const char *name, batch *b) {
  size_t jn;
  b->src = typed(env, a[0], napi_uint8_array, &b->n, "etcd-inspect native: src must be a Uint8Array");
  if (b->src == NULL) return 0;
  b->jobs = typed(env, a[1], napi_int32_array, &jn, "etcd-inspect native: jobs must be an Int32Array");
  if (b->jobs == NULL || !u32(env, a[2], &b->count)) return 0;
  if ((size_t)b->count * width > jn) {
    napi_throw_range_error(env, NULL, name);
    return 0;
  }
  for (uint32_t i = 0; i < b->count; i++) {
    int32_t s = b->jobs[width * i], e = b->jobs[width * i + 1];
    if (s < 0 || s > e || (size_t)e > b->n) {
      napi_throw_range_error(env, NULL, name);
      return 0;
    }
  }
  return 1;
}

/*
 * sha16Batch(src: Uint8Array, jobs: Int32Array, count, out: Uint8Array): for each job i,
 * jobs[3i, 3i+3) = start, end, at: the digits of src[start, end) at out[at]. Every job is checked
 * before any is written.
 */
static napi_value Sha16Batch(napi_env env, napi_callback_info info) {
  napi_value a[4];
  batch b;
  size_t on;
  if (!args(env, info, 4, a, "sha16Batch(src, jobs, count, out)")) return NULL;
  if (!batch_head(env, a, 3, "sha16Batch: a job outside the arrays", &b)) return NULL;
  uint8_t *out = typed(env, a[3], napi_uint8_array, &on, "sha16Batch: out must be a Uint8Array");
  if (out == NULL) return NULL;
  for (uint32_t i = 0; i < b.count; i++) {
    int32_t at = b.jobs[3 * i + 2];
    if (at < 0 || (size_t)at + 16 > on) {
      napi_throw_range_error(env, NULL, "sha16Batch: a job outside the arrays");
      return NULL;
    }
  }
  for (uint32_t i = 0; i < b.count; i++) {
    const int32_t *j = b.jobs + 3 * i;
    sha16(b.src + j[0], (size_t)(j[1] - j[0]), out + j[2]);
  }
  return NULL;
}

/*
 * crc32cBatch(src: Uint8Array, jobs: Int32Array, count): for each job i, jobs[4i, 4i+4) = start,
 * end, prev, stored: whether CRC-32C(prev, src[start, end)) = stored. Returns the first i where
 * it is not, or -1. Every job is bounds-checked before any is summed.
 */
static napi_value Crc32cBatch(napi_env env, napi_callback_info info) {
  napi_value a[3];
  batch b;
  if (!args(env, info, 3, a, "crc32cBatch(src, jobs, count)")) return NULL;
  if (!batch_head(env, a, 4, "crc32cBatch: a job outside the array", &b)) return NULL;
  int32_t bad = -1;
  for (uint32_t i = 0; i < b.count; i++) {
    const int32_t *j = b.jobs + 4 * i;
    if (crc32c((uint32_t)j[2], b.src + j[0], (size_t)(j[1] - j[0])) != (uint32_t)j[3]) {
      bad = (int32_t)i;
      break;
    }
  }
  napi_value r;
  napi_create_int32(env, bad, &r);
  return r;
}

/* crc32c(prev, src: Uint8Array, start, end): CRC-32C(prev, src[start, end)), unsigned. */
static napi_value Crc32c(napi_env env, napi_callback_info info) {
  napi_value a[4];
  if (!args(env, info, 4, a, "crc32c(prev, src, start, end)")) return NULL;
  size_t n;
  uint32_t prev, s, e;
  if (!u32(env, a[0], &prev)) return NULL;
  const uint8_t *src = typed(env, a[1], napi_uint8_array, &n, "crc32c: src must be a Uint8Array");
  if (src == NULL || !u32(env, a[2], &s) || !u32(env, a[3], &e)) return NULL;
  if (s > e || e > n) {
    napi_throw_range_error(env, NULL, "crc32c: range outside the array");
    return NULL;
  }
  napi_value r;
  napi_create_uint32(env, crc32c(prev, src + s, e - s), &r);
  return r;
}

NAPI_MODULE_INIT() {
  napi_value f;
  crc_init();
  if (napi_create_function(env, "crc32cBatch", NAPI_AUTO_LENGTH, Crc32cBatch, NULL, &f) != napi_ok ||
      napi_set_named_property(env, exports, "crc32cBatch", f) != napi_ok ||
      napi_create_function(env, "crc32c", NAPI_AUTO_LENGTH, Crc32c, NULL, &f) != napi_ok ||
      napi_set_named_property(env, exports, "crc32c", f) != napi_ok)
    return NULL;
  if (napi_create_function(env, "sha16", NAPI_AUTO_LENGTH, Sha16, NULL, &f) != napi_ok ||
      napi_set_named_property(env, exports, "sha16", f) != napi_ok ||
      napi_create_function(env, "sha16Batch", NAPI_AUTO_LENGTH, Sha16Batch, NULL, &f) != napi_ok ||
      napi_set_named_property(env, exports, "sha16Batch", f) != napi_ok)
    return NULL;
  return exports;
}
