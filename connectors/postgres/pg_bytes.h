/* pg_bytes.h — big-endian readers for PostgreSQL's wire formats (the
 * replication protocol, pgoutput, binary COPY). Callers check lengths. */
#ifndef WB_PG_BYTES_H
#define WB_PG_BYTES_H

#include <stdint.h>

static inline uint64_t wb_pg_get_u64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}
static inline uint32_t wb_pg_get_u32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	       ((uint32_t)p[2] << 8) | p[3];
}
static inline uint16_t wb_pg_get_u16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

#endif
