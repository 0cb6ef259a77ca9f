/*
 * Reading a Parquet column chunk: its page headers, decompression, the
 * RLE/bit-packed hybrid of levels and dictionary indices, PLAIN values and
 * the dictionary, lists from repetition levels, all decoded into cells.
 */
#include <inttypes.h>
#include <snappy-c.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "agent/core/cdc_mem.h"
#include "sinks/iceberg/parquet/parquet_read_int.h"
#include "sinks/iceberg/parquet/parquet_rle.h"
#include "sinks/iceberg/parquet/parquet_thrift.h"

#define MAX_PAGE        (512u << 20)    /* an uncompressed page larger than this too */
#define MAX_PAGE_VALUES (1 << 22)       /* level entries of one data page (an all-null page
                                           of a 1M-row group is one page) */

enum { PAGE_DATA = 0, PAGE_INDEX = 1, PAGE_DICTIONARY = 2, PAGE_DATA_V2 = 3 };
enum { ENC_PLAIN = 0, ENC_PLAIN_DICTIONARY = 2, ENC_RLE = 3, ENC_BIT_PACKED = 4,
       ENC_RLE_DICTIONARY = 8 };
enum { CODEC_UNCOMPRESSED = 0, CODEC_SNAPPY = 1, CODEC_GZIP = 2, CODEC_ZSTD = 6 };

/* ---------------------------------------------------------------- RLE hybrid */

/*
 * Decodes n values of width bw (0..32) from p[0..len) into out; returns the
 * bytes used, or -1 when the data ends first or holds a value too wide.
 */
static ptrdiff_t
rle_decode(const uint8_t *p, size_t len, int bw, uint32_t *out, size_t n)
{
    size_t pos = 0, got = 0;
    int    vbytes = (bw + 7) / 8;

    while (got < n) {
        uint64_t h = 0;
        int      shift = 0;

        for (;;) {
            if (pos >= len || shift > 56)
                return -1;
            h |= (uint64_t) (p[pos] & 0x7f) << shift;
            shift += 7;
            if ((p[pos++] & 0x80) == 0)
                break;
        }
        if ((h & 1) == 0) {
            uint64_t count = h >> 1;
            uint32_t v = 0;

            if ((size_t) vbytes > len - pos)
                return -1;
            for (int k = 0; k < vbytes; k++)
                v |= (uint32_t) p[pos + (size_t) k] << (8 * k);
            pos += (size_t) vbytes;
            if (bw < 32 && (v >> bw) != 0)
                return -1;
            for (uint64_t k = 0; k < count && got < n; k++)
                out[got++] = v;
        } else {
            uint64_t groups = h >> 1, avail = len - pos;
            uint64_t nvals = groups > ((uint64_t) 1 << 58) ? UINT64_MAX : groups * 8;
            uint64_t bitpos = 0, need;

            for (uint64_t k = 0; k < nvals && got < n; k++) {
                uint64_t v = 0;

                for (int b = 0; b < bw; b++, bitpos++) {
                    size_t byte = (size_t) (bitpos >> 3);

                    if (byte >= len - pos)
                        return -1;
                    v |= (uint64_t) ((p[pos + byte] >> (bitpos & 7)) & 1) << b;
                }
                out[got++] = (uint32_t) v;
            }
            /* the whole run's bytes, or what is left of the data when the values end early */
            need = groups > avail ? avail : groups * (uint64_t) bw;
            pos += (size_t) (need > avail ? avail : need);
        }
    }
    return (ptrdiff_t) pos;
}

/* ---------------------------------------------------------------- pages */

typedef struct page_hdr {
    int     type;
    int64_t usize, csize;
    int64_t nvalues;        /* level entries (data), entries (dictionary) */
    int     encoding;
    int     def_enc, rep_enc;
    int64_t def_len, rep_len;   /* V2 */
    bool    v2_compressed;
} page_hdr;

static void
rd_page_sub(parquet_thrift_rd *t, page_hdr *h, int kind)
{
    int16_t id;
    uint8_t ty;

    parquet_thrift_rd_struct(t);
    while (parquet_thrift_rd_field(t, &id, &ty)) {
        bool in = ty == PARQUET_TT_I32 || ty == PARQUET_TT_I64;

        if (id == 1 && in)
            h->nvalues = parquet_thrift_rd_int(t);
        else if (kind != PAGE_DATA_V2 && id == 2 && in)
            h->encoding = parquet_thrift_rd_i32(t);
        else if (kind == PAGE_DATA && id == 3 && in)
            h->def_enc = parquet_thrift_rd_i32(t);
        else if (kind == PAGE_DATA && id == 4 && in)
            h->rep_enc = parquet_thrift_rd_i32(t);
        else if (kind == PAGE_DATA_V2 && id == 4 && in)
            h->encoding = parquet_thrift_rd_i32(t);
        else if (kind == PAGE_DATA_V2 && id == 5 && in)
            h->def_len = parquet_thrift_rd_int(t);
        else if (kind == PAGE_DATA_V2 && id == 6 && in)
            h->rep_len = parquet_thrift_rd_int(t);
        else if (kind == PAGE_DATA_V2 && id == 7
                 && (ty == PARQUET_TT_BOOL_TRUE || ty == PARQUET_TT_BOOL_FALSE))
            h->v2_compressed = ty == PARQUET_TT_BOOL_TRUE;
        else
            parquet_thrift_rd_skip(t, ty);
    }
}

static void
rd_page_header(parquet_thrift_rd *t, page_hdr *h)
{
    int16_t id;
    uint8_t ty;

    memset(h, 0, sizeof(*h));
    h->type = -1;
    h->usize = h->csize = h->nvalues = -1;
    h->encoding = h->def_enc = h->rep_enc = ENC_RLE;
    h->v2_compressed = true;
    while (parquet_thrift_rd_field(t, &id, &ty)) {
        bool in = ty == PARQUET_TT_I32 || ty == PARQUET_TT_I64;

        if (id == 1 && in)
            h->type = parquet_thrift_rd_i32(t);
        else if (id == 2 && in)
            h->usize = parquet_thrift_rd_int(t);
        else if (id == 3 && in)
            h->csize = parquet_thrift_rd_int(t);
        else if (id == 5 && ty == PARQUET_TT_STRUCT && h->type == PAGE_DATA)
            rd_page_sub(t, h, PAGE_DATA);
        else if (id == 7 && ty == PARQUET_TT_STRUCT && h->type == PAGE_DICTIONARY)
            rd_page_sub(t, h, PAGE_DICTIONARY);
        else if (id == 8 && ty == PARQUET_TT_STRUCT && h->type == PAGE_DATA_V2)
            rd_page_sub(t, h, PAGE_DATA_V2);
        else
            parquet_thrift_rd_skip(t, ty);
    }
}

/* A new buffer in the chunk for a decoded page. */
static cdc_buf *
chunk_page(parquet_chunk *ch)
{
    if (ch->npages == ch->cap_pages) {
        ch->cap_pages = ch->cap_pages ? 2 * ch->cap_pages : 8;
        ch->pages = cdc_xrealloc(ch->pages, ch->cap_pages * sizeof(*ch->pages));
    }
    ch->pages[ch->npages] = (cdc_buf) CDC_BUF_INIT;
    return &ch->pages[ch->npages++];
}

/* Decompresses src[0..n) into exactly usize bytes; *out points at them. */
static int
decompress(parquet_reader *r, const parquet_read_col *c, int codec, const uint8_t *src, size_t n,
           int64_t usize, parquet_chunk *ch, const uint8_t **out, cdc_err *err)
{
    cdc_buf *b;

    if (usize < 0 || (uint64_t) usize > MAX_PAGE)
        return bad(r, err, "column %s: page of %" PRId64 " bytes uncompressed", c->name, usize);
    if (codec == CODEC_UNCOMPRESSED) {
        if ((int64_t) n != usize)
            return bad(r, err, "column %s: uncompressed page of %zu bytes says %" PRId64,
                       c->name, n, usize);
        *out = src;
        return 0;
    }
    b = chunk_page(ch);
    if (!cdc_buf_reserve(b, (size_t) usize + 1))
        return cdc_err_set(err, CDC_E_NOMEM, "parquet file %s: out of memory", r->name);
    if (codec == CODEC_SNAPPY) {
        size_t ulen;

        if (snappy_uncompressed_length((const char *) src, n, &ulen) != SNAPPY_OK
            || ulen != (size_t) usize)
            return bad(r, err, "column %s: snappy page does not hold %" PRId64 " bytes", c->name,
                       usize);
        if (snappy_uncompress((const char *) src, n, (char *) b->data, &ulen) != SNAPPY_OK
            || ulen != (size_t) usize)
            return bad(r, err, "column %s: corrupt snappy page", c->name);
    } else if (codec == CODEC_ZSTD) {
        size_t k = ZSTD_decompress(b->data, (size_t) usize, src, n);

        if (ZSTD_isError(k))
            return bad(r, err, "column %s: zstd page: %s", c->name, ZSTD_getErrorName(k));
        if (k != (size_t) usize)
            return bad(r, err, "column %s: zstd page of %zu bytes says %" PRId64, c->name, k,
                       usize);
    } else {
        return unsupported(r, err, "column %s: compression codec %d is not supported "
                           "(uncompressed, snappy and zstd are)", c->name, codec);
    }
    b->len = (size_t) usize;
    *out = b->data;
    return 0;
}

static int64_t
sign_extend32(const uint8_t *p)
{
    return (int64_t) (int32_t) ((uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16
                                | (uint32_t) p[3] << 24);
}

static uint64_t
le64(const uint8_t *p)
{
    uint64_t v = 0;

    for (int k = 7; k >= 0; k--)
        v = v << 8 | p[k];
    return v;
}

/* n PLAIN values from p[0..len) into cells (their null flags untouched, false). */
static int
plain_values(parquet_reader *r, const parquet_read_col *c, const uint8_t *p, size_t len,
             parquet_cell **cells, size_t n, cdc_err *err)
{
    size_t pos = 0;

    for (size_t i = 0; i < n; i++) {
        parquet_cell *x = cells[i];

        switch (c->physical) {
        case PARQUET_PT_BOOLEAN:
            if (i / 8 >= len)
                goto short_data;
            x->b = (p[i / 8] >> (i % 8)) & 1;
            x->i = x->b;
            pos = i / 8 + 1;
            break;
        case PARQUET_PT_INT32:
        case PARQUET_PT_FLOAT:
            if (len - pos < 4)
                goto short_data;
            if (c->physical == PARQUET_PT_INT32) {
                x->i = sign_extend32(p + pos);
            } else {
                float    f;
                uint32_t u = (uint32_t) sign_extend32(p + pos);

                memcpy(&f, &u, 4);
                x->f = f;
            }
            pos += 4;
            break;
        case PARQUET_PT_INT64:
        case PARQUET_PT_DOUBLE:
            if (len - pos < 8)
                goto short_data;
            if (c->physical == PARQUET_PT_INT64) {
                x->i = (int64_t) le64(p + pos);
            } else {
                uint64_t u = le64(p + pos);

                memcpy(&x->f, &u, 8);
            }
            pos += 8;
            break;
        case PARQUET_PT_BYTE_ARRAY: {
            uint32_t l;

            if (len - pos < 4)
                goto short_data;
            l = (uint32_t) sign_extend32(p + pos);
            pos += 4;
            if (l > len - pos)
                goto short_data;
            x->p = p + pos;
            x->n = l;
            pos += l;
            break;
        }
        case PARQUET_PT_FIXED:
            if (len - pos < (size_t) c->type_len)
                goto short_data;
            x->p = p + pos;
            x->n = (size_t) c->type_len;
            pos += (size_t) c->type_len;
            break;
        default:
            return unsupported(r, err, "column %s: physical type %d (INT96?) is not supported",
                               c->name, c->physical);
        }
    }
    return 0;
short_data:
    return bad(r, err, "column %s: page holds fewer values than it says", c->name);
}

/* The dictionary page's values into ch->dict. */
static int
load_dict(parquet_reader *r, const parquet_read_col *c, const page_hdr *h, const uint8_t *p,
          size_t len, parquet_chunk *ch, cdc_err *err)
{
    size_t         minsz;
    parquet_cell **ptrs;
    int            rc;

    if (ch->dict != NULL)
        return bad(r, err, "column %s: a second dictionary page", c->name);
    if (h->encoding != ENC_PLAIN && h->encoding != ENC_PLAIN_DICTIONARY)
        return unsupported(r, err, "column %s: dictionary page encoding %d", c->name,
                           h->encoding);
    switch (c->physical) {
    case PARQUET_PT_BOOLEAN: minsz = 0; break;
    case PARQUET_PT_INT32: case PARQUET_PT_FLOAT: case PARQUET_PT_BYTE_ARRAY: minsz = 4; break;
    case PARQUET_PT_FIXED: minsz = (size_t) c->type_len; break;
    default: minsz = 8; break;
    }
    if (h->nvalues < 0 || (minsz > 0 && (uint64_t) h->nvalues > len / minsz)
        || (minsz == 0 && (uint64_t) h->nvalues > (uint64_t) len * 8))
        return bad(r, err, "column %s: dictionary of %" PRId64 " values in %zu bytes", c->name,
                   h->nvalues, len);
    ch->ndict = (size_t) h->nvalues;
    ch->dict = cdc_xcalloc(ch->ndict ? ch->ndict : 1, sizeof(*ch->dict));
    ptrs = cdc_xcalloc(ch->ndict ? ch->ndict : 1, sizeof(*ptrs));
    for (size_t i = 0; i < ch->ndict; i++)
        ptrs[i] = &ch->dict[i];
    rc = plain_values(r, c, p, len, ptrs, ch->ndict, err);
    free(ptrs);
    return rc;
}

static uint32_t *
scratch(uint32_t **buf, size_t *cap, size_t n)
{
    if (n > *cap) {
        *cap = n;
        *buf = cdc_xrealloc(*buf, n * sizeof(**buf));
    }
    return *buf;
}

/* Room for n cells at least (doubling), never more than max + 1. */
static parquet_cell *
grow(parquet_cell *cells, size_t *cap, size_t n, size_t max)
{
    size_t c;

    if (n <= *cap)
        return cells;
    c = *cap * 2 > n ? *cap * 2 : n;
    if (c > max + 1)
        c = max + 1 > n ? max + 1 : n;
    *cap = c;
    return cdc_xrealloc(cells, c * sizeof(*cells));
}

/*
 * The nv cells at first[] of one data page: null where def (NULL: none) is
 * below max_def, the others decoded from vals in encoding h->encoding.
 */
static int
page_values(parquet_reader *r, const parquet_read_col *c, const page_hdr *h,
            const uint32_t *def, size_t nv, const uint8_t *vals, size_t vlen,
            const parquet_chunk *ch, parquet_cell *first, cdc_err *err)
{
    size_t         nn = 0;
    parquet_cell **ptrs;
    int            rc = 0;

    ptrs = cdc_xcalloc(nv ? nv : 1, sizeof(*ptrs));
    for (size_t i = 0; i < nv; i++) {
        memset(&first[i], 0, sizeof(first[i]));
        if (def != NULL && def[i] != (uint32_t) c->max_def)
            first[i].null = true;
        else
            ptrs[nn++] = &first[i];
    }
    switch (h->encoding) {
    case ENC_PLAIN:
        rc = plain_values(r, c, vals, vlen, ptrs, nn, err);
        break;
    case ENC_PLAIN_DICTIONARY:
    case ENC_RLE_DICTIONARY: {
        uint32_t *idx;
        int       bw;

        if (ch->dict == NULL) {
            rc = bad(r, err, "column %s: dictionary-encoded page without a dictionary", c->name);
            break;
        }
        if (nn == 0)
            break;
        if (vlen < 1 || vals[0] > 32) {
            rc = bad(r, err, "column %s: bad dictionary index width", c->name);
            break;
        }
        bw = vals[0];
        idx = cdc_xcalloc(nn, sizeof(*idx));
        if (rle_decode(vals + 1, vlen - 1, bw, idx, nn) < 0) {
            rc = bad(r, err, "column %s: dictionary indices cut short", c->name);
        } else {
            for (size_t i = 0; i < nn; i++) {
                if (idx[i] >= ch->ndict) {
                    rc = bad(r, err, "column %s: dictionary index %" PRIu32 " of %zu", c->name,
                             idx[i], ch->ndict);
                    break;
                }
                *ptrs[i] = ch->dict[idx[i]];
            }
        }
        free(idx);
        break;
    }
    case ENC_RLE: {
        uint32_t *bits;
        uint32_t  l;

        if (c->physical != PARQUET_PT_BOOLEAN) {
            rc = unsupported(r, err, "column %s: RLE values of a non-boolean column", c->name);
            break;
        }
        if (nn == 0)
            break;
        if (vlen < 4 || (l = (uint32_t) sign_extend32(vals)) > vlen - 4) {
            rc = bad(r, err, "column %s: RLE boolean values cut short", c->name);
            break;
        }
        bits = cdc_xcalloc(nn, sizeof(*bits));
        if (rle_decode(vals + 4, l, 1, bits, nn) < 0)
            rc = bad(r, err, "column %s: RLE boolean values cut short", c->name);
        for (size_t i = 0; rc == 0 && i < nn; i++)
            ptrs[i]->b = bits[i] != 0, ptrs[i]->i = bits[i] != 0;
        free(bits);
        break;
    }
    default:
        rc = unsupported(r, err, "column %s: value encoding %d is not supported yet (PLAIN, "
                         "dictionary and boolean RLE are)", c->name, h->encoding);
        break;
    }
    free(ptrs);
    return rc;
}

void
parquet_chunk_free(parquet_chunk *ch)
{
    free(ch->cells);
    cdc_buf_free(&ch->raw);
    for (size_t i = 0; i < ch->npages; i++)
        cdc_buf_free(&ch->pages[i]);
    free(ch->pages);
    free(ch->dict);
    free(ch->elems);
    *ch = (parquet_chunk) PARQUET_CHUNK_INIT;
}

/* The levels of one kind: repetition (rep) or definition. */
typedef struct level_kind {
    const char *what;
    int         max;
    uint32_t  **buf;    /* the reader's scratch for them */
    size_t     *cap;
} level_kind;

static level_kind
level_kind_of(parquet_reader *r, const parquet_read_col *c, bool rep)
{
    return rep ? (level_kind) { "repetition", c->max_rep, &r->reps, &r->cap_reps }
               : (level_kind) { "definition", c->max_def, &r->levels, &r->cap_levels };
}

/* n levels of kind k, RLE hybrid in p[0..len), into the reader's scratch (*out). */
static int
decode_levels(parquet_reader *r, const parquet_read_col *c, const level_kind *k,
              const uint8_t *p, size_t len, size_t n, const uint32_t **out, cdc_err *err)
{
    uint32_t *lv = scratch(k->buf, k->cap, n ? n : 1);

    if (rle_decode(p, len, parquet_bit_width((uint32_t) k->max), lv, n) < 0)
        return bad(r, err, "column %s: bad %s levels", c->name, k->what);
    *out = lv;
    return 0;
}

/*
 * A V1 page's levels of one kind (none: *out stays NULL): 4-byte length, then the RLE
 * hybrid (enc, the only encoding read); *vals and *vlen move past them.
 */
static int
v1_levels(parquet_reader *r, const parquet_read_col *c, bool rep, int enc, const uint8_t **vals,
          size_t *vlen, size_t n, const uint32_t **out, cdc_err *err)
{
    level_kind k = level_kind_of(r, c, rep);
    uint32_t   l;

    if (k.max == 0)
        return 0;
    if (enc != ENC_RLE)
        return unsupported(r, err, "column %s: %s levels in encoding %d", c->name, k.what, enc);
    if (*vlen < 4 || (l = (uint32_t) sign_extend32(*vals)) > *vlen - 4)
        return bad(r, err, "column %s: %s levels cut short", c->name, k.what);
    if (decode_levels(r, c, &k, *vals + 4, l, n, out, err) != 0)
        return -1;
    *vals += 4 + (size_t) l;
    *vlen -= 4 + (size_t) l;
    return 0;
}

/* A V2 page's levels of one kind (none: *out stays NULL), the RLE hybrid in p[0..len). */
static int
v2_levels(parquet_reader *r, const parquet_read_col *c, bool rep, const uint8_t *p, size_t len,
          size_t n, const uint32_t **out, cdc_err *err)
{
    level_kind k = level_kind_of(r, c, rep);

    return k.max == 0 ? 0 : decode_levels(r, c, &k, p, len, n, out, err);
}

/* Every level of lv[0..n) (NULL: none) at most the kind's maximum. */
static int
levels_in_range(parquet_reader *r, const parquet_read_col *c, bool rep, const uint32_t *lv,
                size_t n, cdc_err *err)
{
    level_kind k = level_kind_of(r, c, rep);

    for (size_t i = 0; lv != NULL && i < n; i++)
        if (lv[i] > (uint32_t) k.max)
            return bad(r, err, "column %s: %s level %" PRIu32 " above %d", c->name, k.what,
                       lv[i], k.max);
    return 0;
}

/*
 * A data page of a list column: its elements (entries at or above rep_def)
 * appended to ch->elems, its rows (entries of repetition level 0) to
 * ch->cells; a row may go on in the next page.
 */
static int
list_page(parquet_reader *r, const parquet_read_col *c, const page_hdr *h, const uint32_t *rep,
          const uint32_t *def, const uint8_t *vals, size_t vlen, int64_t want, parquet_chunk *ch,
          cdc_err *err)
{
    size_t    nv = (size_t) h->nvalues, ne = 0, e;
    uint32_t *ed = scratch(&r->edefs, &r->cap_edefs, nv ? nv : 1);

    for (size_t i = 0; i < nv; i++) {
        uint32_t d = def ? def[i] : (uint32_t) c->max_def;

        if ((int) d >= c->rep_def)
            ed[ne++] = d;
    }
    ch->elems = grow(ch->elems, &ch->cap_elems, ch->nelems + ne + 1, SIZE_MAX - 1);
    if (page_values(r, c, h, ed, ne, vals, vlen, ch, ch->elems + ch->nelems, err) != 0)
        return -1;
    e = ch->nelems;
    for (size_t i = 0; i < nv; i++) {
        uint32_t      d = def ? def[i] : (uint32_t) c->max_def;
        bool          elem = (int) d >= c->rep_def;
        parquet_cell *row;

        if (rep[i] == 0) {
            if (ch->nrows >= want)
                return bad(r, err, "column %s: more rows than the row group's %" PRId64,
                           c->name, want);
            ch->cells = grow(ch->cells, &ch->cap_cells, (size_t) ch->nrows + 1, (size_t) want);
            row = &ch->cells[ch->nrows++];
            memset(row, 0, sizeof(*row));
            row->i = (int64_t) e;
            row->null = (int) d < c->rep_def - 1;
        } else {
            if (ch->nrows == 0 || !elem || ch->cells[ch->nrows - 1].n == 0)
                return bad(r, err, "column %s: a repeated entry that continues no list",
                           c->name);
            row = &ch->cells[ch->nrows - 1];
        }
        if (elem) {
            row->n++;
            e++;
        }
    }
    ch->nelems = e;
    return 0;
}

int
parquet_read_chunk(parquet_reader *r, size_t rg, size_t col, parquet_chunk *ch, cdc_err *err)
{
    const parquet_read_col *c;
    const rd_chunk         *k;
    int64_t                 want, entries = 0;
    size_t                  pos = 0;
    bool                    is_list;

    parquet_chunk_free(ch);
    if (rg >= r->nrgs || col >= r->ncols)
        return cdc_err_set(err, CDC_E_INVAL, "parquet file %s: no row group %zu / column %zu",
                           r->name, rg, col);
    c = &r->cols[col];
    k = &r->rgs[rg].chunks[col];
    want = r->rgs[rg].nrows;
    is_list = c->max_rep > 0;
    if (c->max_rep > 1)
        return unsupported(r, err, "column %s: nested repeated columns (lists of lists, maps "
                           "in lists) are not supported yet", c->name);
    if (c->physical == PARQUET_PT_INT96)
        return unsupported(r, err, "column %s: INT96 (a legacy timestamp) is not supported; "
                           "write timestamps as INT64", c->name);
    if (k->external)
        return unsupported(r, err, "column %s: column chunk in another file", c->name);
    if (k->type != c->physical)
        return bad(r, err, "column %s: chunk of physical type %d, schema says %d", c->name,
                   k->type, c->physical);
    if (is_list ? k->num_values < want : k->num_values != want)
        return bad(r, err, "column %s: row group %zu: %" PRId64 " values for %" PRId64 " rows",
                   c->name, rg, k->num_values, want);
    if (want == 0)
        return 0;   /* an empty row group: its chunk may have no page at all */
    if (k->start < 4 || k->len < 0)
        return bad(r, err, "column %s: row group %zu: bad chunk offset or size", c->name, rg);
    if (parquet_read_range(r, (uint64_t) k->start, (uint64_t) k->len, &ch->raw, err) != 0)
        return cdc_err_wrap(err, "column %s, row group %zu", c->name, rg);
    while (is_list ? entries < k->num_values : ch->nrows < want) {
        parquet_thrift_rd t;
        page_hdr          h;
        const uint8_t    *body, *data;
        size_t            left = ch->raw.len - pos, hlen;

        if (left == 0)
            return bad(r, err, "column %s: row group %zu: pages end after %" PRId64 " of %" PRId64
                       " values", c->name, rg, is_list ? entries : ch->nrows,
                       is_list ? k->num_values : want);
        parquet_thrift_rd_init(&t, ch->raw.data + pos, left);
        rd_page_header(&t, &h);
        if (parquet_thrift_rd_failed(&t))
            return bad(r, err, "column %s: page header: %s", c->name, t.bad);
        hlen = parquet_thrift_rd_used(&t, ch->raw.data + pos);
        if (h.csize < 0 || (uint64_t) h.csize > left - hlen)
            return bad(r, err, "column %s: page of %" PRId64 " bytes beyond its chunk", c->name,
                       h.csize);
        body = ch->raw.data + pos + hlen;
        pos += hlen + (size_t) h.csize;
        if (h.type == PAGE_DICTIONARY) {
            if (decompress(r, c, k->codec, body, (size_t) h.csize, h.usize, ch, &data, err) != 0
                || load_dict(r, c, &h, data, (size_t) h.usize, ch, err) != 0)
                return -1;
        } else if (h.type == PAGE_DATA || h.type == PAGE_DATA_V2) {
            const uint32_t *def = NULL, *rep = NULL;
            const uint8_t  *vals;
            size_t          vlen, nv;
            int64_t         room = is_list ? k->num_values - entries : want - ch->nrows;

            if (h.nvalues < 0 || h.nvalues > room || h.nvalues > MAX_PAGE_VALUES)
                return bad(r, err, "column %s: a page of %" PRId64 " values where %" PRId64
                           " are left", c->name, h.nvalues, room);
            nv = (size_t) h.nvalues;
            if (h.type == PAGE_DATA) {
                if (decompress(r, c, k->codec, body, (size_t) h.csize, h.usize, ch, &data,
                               err) != 0)
                    return -1;
                vals = data;
                vlen = (size_t) h.usize;
                if (v1_levels(r, c, true, h.rep_enc, &vals, &vlen, nv, &rep, err) != 0 ||
                    v1_levels(r, c, false, h.def_enc, &vals, &vlen, nv, &def, err) != 0)
                    return -1;
            } else {
                size_t lvl;

                if (h.def_len < 0 || h.rep_len < 0 || h.def_len > h.csize
                    || h.rep_len > h.csize - h.def_len || h.usize < h.def_len + h.rep_len)
                    return bad(r, err, "column %s: V2 page level lengths do not fit", c->name);
                lvl = (size_t) (h.def_len + h.rep_len);
                if (v2_levels(r, c, true, body, (size_t) h.rep_len, nv, &rep, err) != 0 ||
                    v2_levels(r, c, false, body + h.rep_len, (size_t) h.def_len, nv, &def,
                              err) != 0)
                    return -1;
                if (h.v2_compressed) {
                    if (decompress(r, c, k->codec, body + lvl, (size_t) h.csize - lvl,
                                   h.usize - (int64_t) lvl, ch, &vals, err) != 0)
                        return -1;
                } else {
                    if (h.usize != h.csize)
                        return bad(r, err, "column %s: uncompressed V2 page sizes differ",
                                   c->name);
                    vals = body + lvl;
                }
                vlen = (size_t) h.usize - lvl;
            }
            if (levels_in_range(r, c, false, def, nv, err) != 0 ||
                levels_in_range(r, c, true, rep, nv, err) != 0)
                return -1;
            entries += h.nvalues;
            if (is_list) {
                if (list_page(r, c, &h, rep, def, vals, vlen, want, ch, err) != 0)
                    return -1;
            } else {
                /* the cells grow with the pages that fill them (doubling, up to the rows) */
                ch->cells = grow(ch->cells, &ch->cap_cells, (size_t) ch->nrows + nv + 1,
                                 (size_t) want);
                if (page_values(r, c, &h, def, nv, vals, vlen, ch, ch->cells + ch->nrows,
                                err) != 0)
                    return -1;
                ch->nrows += h.nvalues;
            }
        } else if (h.type == PAGE_INDEX) {
            continue;
        } else {
            return bad(r, err, "column %s: page of unknown type %d", c->name, h.type);
        }
    }
    if (ch->nrows != want)
        return bad(r, err, "column %s: row group %zu: %" PRId64 " rows, the footer says %" PRId64,
                   c->name, rg, ch->nrows, want);
    return 0;
}
