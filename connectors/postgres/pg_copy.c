/* pg_copy.c — decoder for one row of COPY ... TO STDOUT in text format.
 *
 * Layout of a row (one CopyData message each, as the server sends them):
 *
 *   field \t field \t ... field \n
 *
 * A field is the column's text output with backslash escapes: the server
 * writes \b \f \n \r \t \v \\ for those bytes (so a raw tab or newline
 * never appears inside a field); \N alone is NULL. On input the server also
 * accepts \NNN (octal), \xHH (hex) and a backslash before any other byte
 * (that byte itself), and so do we: the decoder reads what COPY FROM would.
 * A backslash escapes the byte after it even when that byte is a tab, as
 * COPY FROM splits fields. */
#include "pg_copy.h"

#include <stdbool.h>
#include <string.h>

static int octal(uint8_t c)
{
	return c >= '0' && c <= '7' ? c - '0' : -1;
}

static int hex(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes the escapes of raw[0..n) (a whole field, whose backslashes are
 * each followed by a byte inside it) into out; returns the decoded length,
 * at most n. */
static size_t unescape(const uint8_t *raw, size_t n, uint8_t *out)
{
	size_t i = 0, o = 0;
	while (i < n) {
		uint8_t c = raw[i++];
		if (c != '\\') {
			out[o++] = c;
			continue;
		}
		c = raw[i++]; /* the caller checked i < n */
		int d;
		switch (c) {
		case 'b':
			out[o++] = '\b';
			break;
		case 'f':
			out[o++] = '\f';
			break;
		case 'n':
			out[o++] = '\n';
			break;
		case 'r':
			out[o++] = '\r';
			break;
		case 't':
			out[o++] = '\t';
			break;
		case 'v':
			out[o++] = '\v';
			break;
		case 'x':
			if (i < n && (d = hex(raw[i])) >= 0) {
				unsigned v = (unsigned)d;
				i++;
				if (i < n && (d = hex(raw[i])) >= 0) {
					v = v * 16 + (unsigned)d;
					i++;
				}
				out[o++] = (uint8_t)v;
			} else {
				out[o++] = 'x';
			}
			break;
		default:
			if ((d = octal(c)) >= 0) {
				unsigned v = (unsigned)d;
				for (int k = 0;
				     k < 2 && i < n && (d = octal(raw[i])) >= 0;
				     k++, i++)
					v = v * 8 + (unsigned)d;
				out[o++] = (uint8_t)(v & 0377);
			} else {
				out[o++] = c;
			}
		}
	}
	return o;
}

int wb_pg_copy_row(const uint8_t *line, size_t len,
		   struct wb_pg_copy_field *fields, int nfields,
		   struct wb_arena *scratch, wb_error_t *err)
{
	if (line == NULL || len == 0 || line[len - 1] != '\n')
		return wb_error_set(err, WB_ERR_DECODE,
				    "COPY row of %zu bytes does not end with "
				    "a newline",
				    len);
	size_t body = len - 1, i = 0;
	if (nfields == 0) {
		/* a table without columns: the server sends an empty line */
		if (body != 0)
			return wb_error_set(err, WB_ERR_DECODE,
					    "COPY row has data, 0 columns "
					    "expected");
		return WB_OK;
	}
	/* one vectorised pass rules out raw newlines */
	if (memchr(line, '\n', body) != NULL)
		return wb_error_set(err, WB_ERR_DECODE,
				    "COPY row: a newline before its end");
	/* a row without a backslash (most) is split by memchr alone */
	bool plain = memchr(line, '\\', body) == NULL;
	int f = 0;
	for (;;) {
		size_t start = i;
		bool escaped = false;
		if (plain) {
			const uint8_t *tab = memchr(line + i, '\t', body - i);
			i = tab ? (size_t)(tab - line) : body;
		}
		while (i < body) {
			uint8_t c = line[i];
			if (c == '\t')
				break;
			if (c == '\\') {
				if (i + 1 >= body)
					return wb_error_set(
						err, WB_ERR_DECODE,
						"COPY row: a backslash ends "
						"the row");
				escaped = true;
				i += 2;
				continue;
			}
			i++;
		}
		if (f == nfields)
			return wb_error_set(err, WB_ERR_DECODE,
					    "COPY row has more than %d fields",
					    nfields);
		const uint8_t *raw = line + start;
		size_t n = i - start;
		struct wb_pg_copy_field *out = &fields[f++];
		if (n == 2 && raw[0] == '\\' && raw[1] == 'N') {
			out->p = NULL;
			out->len = 0;
		} else if (!escaped) {
			out->p = (const char *)raw;
			out->len = n;
		} else {
			uint8_t *d = wb_arena_alloc(scratch, n);
			if (d == NULL)
				return wb_error_set(err, WB_ERR_NOMEM,
						    "out of memory");
			out->len = unescape(raw, n, d);
			out->p = (const char *)d;
		}
		if (i == body)
			break;
		i++; /* the tab */
	}
	if (f != nfields)
		return wb_error_set(err, WB_ERR_DECODE,
				    "COPY row has %d fields, %d expected", f,
				    nfields);
	return WB_OK;
}
