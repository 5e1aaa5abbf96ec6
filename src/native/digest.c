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
#include <cpuid.h>
#include <immintrin.h>
#define HAVE_SSE42_PATH 1
#define HAVE_SHA_NI_PATH 1
#endif

static const char HEX[] = "0123456789abcdef";

/* 16 hex digits of the first 8 digest bytes at out. */
static void hex8(const uint8_t d[8], uint8_t *out) {
  for (int i = 0; i < 8; i++) {
    out[2 * i] = (uint8_t)HEX[d[i] >> 4];
    out[2 * i + 1] = (uint8_t)HEX[d[i] & 15];
  }
}

static void sha16_openssl(const uint8_t *p, size_t n, uint8_t *out) {
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256_CTX c;
  SHA256_Init(&c);
  SHA256_Update(&c, p, n);
  SHA256_Final(d, &c);
  hex8(d, out);
}

/*
 * SHA-256 on the SHA extensions, two messages at a time. One message's rounds form a chain of
 * sha256rnds2 instructions that waits on each result: OpenSSL's SHA-NI code takes 234-258 ns for
 * a 240-300 byte value here, and so does this one alone. Interleaving the blocks of two values
 * fills the waits: 150-162 ns a value (DigestBatch hashes a chunk's values in pairs). Checked
 * against OpenSSL for every length from 0 to 699 and mixed pairs; test/format/native.test.ts
 * checks the addon against Node's crypto.
 */
#ifdef HAVE_SHA_NI_PATH
static int have_sha_ni = 0;

static const uint32_t K256[64] = {
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

/* The state in the extensions' order: ABEF and CDGH. */
typedef struct {
  __m128i abef, cdgh;
} sha_state;

#define SHA_NI __attribute__((target("sha,sse4.1,ssse3")))

SHA_NI static sha_state sha_init(void) {
  static const uint32_t h[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };
  __m128i dcba = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&h[0]), 0xB1);
  __m128i hgfe = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&h[4]), 0x1B);
  sha_state s;
  s.abef = _mm_alignr_epi8(dcba, hgfe, 8);
  s.cdgh = _mm_blend_epi16(hgfe, dcba, 0xF0);
  return s;
}

/* Rounds 4g..4g+3 of one message (S0 = ABEF, S1 = CDGH, W its last four schedule words). */
#define SHA_ROUNDS(S0, S1, W, g) do { \
    __m128i m_ = _mm_add_epi32(W[(g) & 3], _mm_loadu_si128((const __m128i *)&K256[4 * (g)])); \
    S1 = _mm_sha256rnds2_epu32(S1, S0, m_); \
    if ((g) >= 3 && (g) <= 14) { \
      W[((g) + 1) & 3] = _mm_add_epi32(W[((g) + 1) & 3], _mm_alignr_epi8(W[(g) & 3], W[((g) + 3) & 3], 4)); \
      W[((g) + 1) & 3] = _mm_sha256msg2_epu32(W[((g) + 1) & 3], W[(g) & 3]); \
    } \
    m_ = _mm_shuffle_epi32(m_, 0x0E); \
    S0 = _mm_sha256rnds2_epu32(S0, S1, m_); \
    if ((g) >= 1 && (g) <= 12) W[((g) + 3) & 3] = _mm_sha256msg1_epu32(W[((g) + 3) & 3], W[(g) & 3]); \
  } while (0)

SHA_NI static void sha_block(sha_state *s, const uint8_t *p) {
  const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
  __m128i W[4], S0 = s->abef, S1 = s->cdgh;
  for (int i = 0; i < 4; i++) W[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * i)), bswap);
#define R1(g) SHA_ROUNDS(S0, S1, W, g)
  R1(0); R1(1); R1(2); R1(3); R1(4); R1(5); R1(6); R1(7); R1(8); R1(9); R1(10); R1(11); R1(12); R1(13); R1(14); R1(15);
#undef R1
  s->abef = _mm_add_epi32(S0, s->abef);
  s->cdgh = _mm_add_epi32(S1, s->cdgh);
}

SHA_NI static void sha_block2(sha_state *s, const uint8_t *p, sha_state *t, const uint8_t *q) {
  const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
  __m128i W[4], V[4], S0 = s->abef, S1 = s->cdgh, T0 = t->abef, T1 = t->cdgh;
  for (int i = 0; i < 4; i++) {
    W[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * i)), bswap);
    V[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(q + 16 * i)), bswap);
  }
#define R2(g) SHA_ROUNDS(S0, S1, W, g); SHA_ROUNDS(T0, T1, V, g)
  R2(0); R2(1); R2(2); R2(3); R2(4); R2(5); R2(6); R2(7); R2(8); R2(9); R2(10); R2(11); R2(12); R2(13); R2(14); R2(15);
#undef R2
  s->abef = _mm_add_epi32(S0, s->abef);
  s->cdgh = _mm_add_epi32(S1, s->cdgh);
  t->abef = _mm_add_epi32(T0, t->abef);
  t->cdgh = _mm_add_epi32(T1, t->cdgh);
}

/* The first 8 digest bytes: words A and B, big-endian (lanes of ABEF from low to high: F E B A). */
SHA_NI static void sha_first8(const sha_state *s, uint8_t d[8]) {
  uint32_t v[4];
  _mm_storeu_si128((__m128i *)v, s->abef);
  for (int i = 0; i < 4; i++) {
    d[i] = (uint8_t)(v[3] >> (24 - 8 * i));
    d[4 + i] = (uint8_t)(v[2] >> (24 - 8 * i));
  }
}

/* A message's padded tail (its last partial block, 0x80, zeros, the bit length): 1 or 2 blocks in buf. */
static size_t sha_tail(const uint8_t *p, size_t n, uint8_t buf[128]) {
  size_t r = n & 63;
  size_t blocks = r < 56 ? 1 : 2;
  uint64_t bits = (uint64_t)n * 8;
  memcpy(buf, p + (n - r), r);
  buf[r] = 0x80;
  /* only the bytes of the tail's blocks (a per-value cost: two values a pair) */
  memset(buf + r + 1, 0, blocks * 64 - 8 - (r + 1));
  for (int i = 0; i < 8; i++) buf[blocks * 64 - 1 - i] = (uint8_t)(bits >> (8 * i));
  return blocks;
}

/* Block i of a message of `full` whole blocks at p, then its tail. */
static const uint8_t *sha_nth(const uint8_t *p, size_t full, const uint8_t *tail, size_t i) {
  return i < full ? p + 64 * i : tail + 64 * (i - full);
}

/* The digits of two messages, their blocks in step while both have one. */
static void sha16_pair(const uint8_t *p, size_t n, uint8_t *o1, const uint8_t *q, size_t m, uint8_t *o2) {
  uint8_t tp[128], tq[128], d[8];
  size_t fp = n >> 6, fq = m >> 6;
  size_t np = fp + sha_tail(p, n, tp), nq = fq + sha_tail(q, m, tq);
  size_t both = np < nq ? np : nq;
  sha_state s = sha_init(), t = sha_init();
  for (size_t i = 0; i < both; i++) sha_block2(&s, sha_nth(p, fp, tp, i), &t, sha_nth(q, fq, tq, i));
  for (size_t i = both; i < np; i++) sha_block(&s, sha_nth(p, fp, tp, i));
  for (size_t i = both; i < nq; i++) sha_block(&t, sha_nth(q, fq, tq, i));
  sha_first8(&s, d);
  hex8(d, o1);
  sha_first8(&t, d);
  hex8(d, o2);
}
#endif

static void sha16(const uint8_t *p, size_t n, uint8_t *out) {
  sha16_openssl(p, n, out);
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
#ifdef HAVE_SHA_NI_PATH
  {
    /* CPUID leaf 7: EBX bit 29 is SHA (GCC 12's __builtin_cpu_supports does not know it); leaf 1
       ECX bits 19 and 9 are SSE4.1 and SSSE3, which its code uses too */
    unsigned a, b, c, d, a1, b1, c1, d1;
    have_sha_ni = __get_cpuid_count(7, 0, &a, &b, &c, &d) && ((b >> 29) & 1) && __get_cpuid(1, &a1, &b1, &c1, &d1) && ((c1 >> 19) & 1) && ((c1 >> 9) & 1);
  }
#endif
}

static uint32_t crc_table(uint32_t prev, const uint8_t *p, size_t n) {
  uint32_t c = ~prev;
  while (n--) c = (c >> 8) ^ table[(c ^ *p++) & 0xff];
  return ~c;
}

#ifdef HAVE_SSE42_PATH
/* The register value (the CRC inverted) after p[0, n). */
__attribute__((target("sse4.2"))) static uint32_t crc_hw_raw(uint32_t c32, const uint8_t *p, size_t n) {
  uint64_t c = c32;
  while (n >= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    c = _mm_crc32_u64(c, w);
    p += 8;
    n -= 8;
  }
  c32 = (uint32_t)c;
  while (n--) c32 = _mm_crc32_u8(c32, *p++);
  return c32;
}

__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t prev, const uint8_t *p, size_t n) {
  return ~crc_hw_raw(~prev, p, n);
}

/*
 * Three independent CRCs at once. The crc32 instruction waits ~3 cycles on the one before, so one
 * record's chain leaves two cycles in three idle; three records (each starts from its own stored
 * predecessor, so a batch's records do not depend on each other) fill them while all three have
 * 8 bytes left, then each finishes alone.
 */
__attribute__((target("sse4.2"))) static void crc_hw3(const uint32_t prev[3], const uint8_t *const p[3], const size_t n[3], uint32_t out[3]) {
  uint64_t c0 = ~prev[0] & 0xffffffffu, c1 = ~prev[1] & 0xffffffffu, c2 = ~prev[2] & 0xffffffffu;
  size_t m = n[0] < n[1] ? n[0] : n[1];
  if (n[2] < m) m = n[2];
  m &= ~(size_t)7;
  for (size_t k = 0; k < m; k += 8) {
    uint64_t w0, w1, w2;
    memcpy(&w0, p[0] + k, 8);
    memcpy(&w1, p[1] + k, 8);
    memcpy(&w2, p[2] + k, 8);
    c0 = _mm_crc32_u64(c0, w0);
    c1 = _mm_crc32_u64(c1, w1);
    c2 = _mm_crc32_u64(c2, w2);
  }
  out[0] = ~crc_hw_raw((uint32_t)c0, p[0] + m, n[0] - m);
  out[1] = ~crc_hw_raw((uint32_t)c1, p[1] + m, n[1] - m);
  out[2] = ~crc_hw_raw((uint32_t)c2, p[2] + m, n[2] - m);
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

#ifdef HAVE_SHA_NI_PATH
/*
 * The batch's values hashed in pairs of the same number of blocks where there are such pairs: a
 * pair of unequal values hashes the longer one's extra blocks alone, at the one-way speed (a log
 * of mixed sizes, like bench/wal's 120-300 byte values with one in ten of 1,200 bytes, spent a
 * third of its SHA time there). Values wait for a partner of their block count (up to 16 blocks;
 * longer ones in one class); what is left is paired in order. The digits go where each job says,
 * so the order the values are hashed in does not matter.
 */
#define PAIR_CLASSES 17
static void sha16_paired(const batch *b, uint8_t *out) {
  int64_t waiting[PAIR_CLASSES];
  for (int c = 0; c < PAIR_CLASSES; c++) waiting[c] = -1;
  for (uint32_t i = 0; i < b->count; i++) {
    const int32_t *j = b->jobs + 3 * i;
    size_t n = (size_t)(j[1] - j[0]);
    size_t blocks = (n + 8) / 64 + 1;
    int c = blocks < PAIR_CLASSES ? (int)blocks : PAIR_CLASSES - 1;
    if (waiting[c] < 0) {
      waiting[c] = i;
      continue;
    }
    const int32_t *k = b->jobs + 3 * waiting[c];
    waiting[c] = -1;
    sha16_pair(b->src + k[0], (size_t)(k[1] - k[0]), out + k[2], b->src + j[0], n, out + j[2]);
  }
  int64_t left = -1;
  for (int c = 0; c < PAIR_CLASSES; c++) {
    if (waiting[c] < 0) continue;
    if (left < 0) {
      left = waiting[c];
      continue;
    }
    const int32_t *k = b->jobs + 3 * left, *j = b->jobs + 3 * waiting[c];
    sha16_pair(b->src + k[0], (size_t)(k[1] - k[0]), out + k[2], b->src + j[0], (size_t)(j[1] - j[0]), out + j[2]);
    left = -1;
  }
  if (left >= 0) {
    const int32_t *k = b->jobs + 3 * left;
    sha16(b->src + k[0], (size_t)(k[1] - k[0]), out + k[2]);
  }
}
#endif

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
#ifdef HAVE_SHA_NI_PATH
  if (have_sha_ni) {
    sha16_paired(&b, out);
    return NULL;
  }
#endif
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
  uint32_t i = 0;
#ifdef HAVE_SSE42_PATH
  if (have_sse42) {
    for (; i + 2 < b.count && bad < 0; i += 3) {
      const int32_t *j = b.jobs + 4 * i;
      const uint32_t prev[3] = { (uint32_t)j[2], (uint32_t)j[6], (uint32_t)j[10] };
      const uint8_t *const p[3] = { b.src + j[0], b.src + j[4], b.src + j[8] };
      const size_t n[3] = { (size_t)(j[1] - j[0]), (size_t)(j[5] - j[4]), (size_t)(j[9] - j[8]) };
      uint32_t got[3];
      crc_hw3(prev, p, n, got);
      for (int k = 0; k < 3; k++) {
        if (got[k] != (uint32_t)j[4 * k + 3]) {
          bad = (int32_t)(i + k);
          break;
        }
      }
    }
  }
#endif
  for (; i < b.count && bad < 0; i++) {
    const int32_t *j = b.jobs + 4 * i;
    if (crc32c((uint32_t)j[2], b.src + j[0], (size_t)(j[1] - j[0])) != (uint32_t)j[3]) bad = (int32_t)i;
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
