/* mapping_setup.c — loading and checking a pipeline's mappings. */
#include "mapping_setup.h"

#include <libgen.h>
#include <stdlib.h>
#include <string.h>

struct wb_mappings *wb_mapping_setup(const struct wb_config *cfg,
				     struct wb_source *src, FILE *out,
				     int *ntables, wb_error_t *err)
{
	return wb_mapping_setup_tables(cfg, src, out, NULL, ntables, err);
}

struct wb_mappings *wb_mapping_setup_tables(const struct wb_config *cfg,
					    struct wb_source *src, FILE *out,
					    struct wb_table ***keep,
					    int *ntables, wb_error_t *err)
{
	struct wb_mapping_diags diags = {NULL, 0, 0};
	struct wb_mappings *m = NULL;
	struct wb_table **tables = NULL;
	struct wb_mapping_table *mt = NULL;
	char(*fixes)[300] = NULL;
	int n = 0;
	*ntables = 0;
	if (keep != NULL)
		*keep = NULL;
	char *path = strdup(cfg->path ? cfg->path : ".");
	if (path == NULL) {
		wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		return NULL;
	}
	struct wb_mapping_options opt = {cfg->name, cfg->topic_prefix, NULL,
					 NULL, dirname(path)};
	m = wb_mappings_load((const char *const *)cfg->mappings, cfg->nmappings,
			     &opt, &diags, err);
	if (m == NULL)
		goto fail;
	if (src->ops->describe == NULL) {
		wb_error_set(err, WB_ERR_CONFIG,
			     "source type %s cannot describe its tables: "
			     "mappings need it",
			     cfg->source.type);
		goto fail;
	}
	tables = src->ops->describe(src, err);
	if (tables == NULL)
		goto fail;
	while (tables[n])
		n++;
	*ntables = n;
	mt = calloc((size_t)(n ? n : 1), sizeof(*mt));
	fixes = calloc((size_t)(n ? n : 1), sizeof(*fixes));
	if (mt == NULL || fixes == NULL) {
		wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		goto fail;
	}
	for (int i = 0; i < n; i++) {
		mt[i].table = tables[i];
		mt[i].before_complete = true;
		if (src->ops->before_image &&
		    src->ops->before_image(src, tables[i],
					   &mt[i].before_complete,
					   &mt[i].before_none_on_update,
					   fixes[i], sizeof(fixes[i]), err))
			goto fail;
		mt[i].before_fix = fixes[i][0] ? fixes[i] : NULL;
	}
	int bad = wb_mappings_check(m, mt, n, &diags, err);
	if (bad < 0)
		goto fail;
	if (bad > 0) {
		wb_error_set(err, WB_ERR_CONFIG,
			     "%d problem%s in the mappings (listed above)", bad,
			     bad == 1 ? "" : "s");
		goto fail;
	}
	if (keep != NULL) {
		*keep = tables;
		tables = NULL;
		n = 0;
	}
	goto done;
fail:
	if (diags.n > 0) {
		wb_mapping_diags_print(&diags, out);
		if (err->code == 0 || err->code == WB_ERR_CONFIG)
			wb_error_set(err, WB_ERR_CONFIG,
				     "%d problem%s in the mappings (listed "
				     "above)",
				     diags.n, diags.n == 1 ? "" : "s");
	}
	wb_mappings_free(m);
	m = NULL;
done:
	wb_mapping_diags_free(&diags);
	for (int i = 0; i < n; i++)
		wb_table_unref(tables[i]);
	free(tables);
	free(mt);
	free(fixes);
	free(path);
	return m;
}
