/* mapping_setup.h — a pipeline's mappings: loaded from its `mappings:`
 * list and checked against the tables its source captures, as `run` and
 * `check` both need them. */
#ifndef WB_MAPPING_SETUP_H
#define WB_MAPPING_SETUP_H

#include <stdio.h>

#include "config.h"
#include "error.h"
#include "mapping.h"
#include "source.h"

/* Loads cfg's mappings and checks them against src's tables (describe(),
 * before_image()). Every problem goes to out as "file:line:column:
 * message"; then NULL with err WB_ERR_CONFIG ("N problems in the
 * mappings"). NULL with err for a source that cannot describe its tables
 * or a failure talking to it. *ntables gets the number of captured
 * tables (for `check`'s line). */
struct wb_mappings *wb_mapping_setup(const struct wb_config *cfg,
				     struct wb_source *src, FILE *out,
				     int *ntables, wb_error_t *err);

/* The same, and on success *tables gets the captured tables the mappings
 * were checked against: a NULL-terminated array of *ntables references
 * that the caller unrefs and frees (NULL on failure). */
struct wb_mappings *wb_mapping_setup_tables(const struct wb_config *cfg,
					    struct wb_source *src, FILE *out,
					    struct wb_table ***tables,
					    int *ntables, wb_error_t *err);

#endif
