/* registry.c — source and sink connectors by name. */
#include <string.h>

#include "sink.h"
#include "source.h"

static const struct wb_source_ops *const sources[] = {
	&wb_pg_source_ops,
	&wb_my_source_ops,
	&wb_odbc_source_ops,
};

static const struct wb_sink_ops *const sinks[] = {
	&wb_avrofile_sink_ops,
	&wb_kafka_sink_ops,
};

const struct wb_source_ops *wb_source_lookup(const char *type)
{
	for (size_t i = 0; type && i < sizeof(sources) / sizeof(sources[0]);
	     i++)
		if (strcmp(sources[i]->name, type) == 0)
			return sources[i];
	return NULL;
}

const struct wb_sink_ops *wb_sink_lookup(const char *type)
{
	for (size_t i = 0; type && i < sizeof(sinks) / sizeof(sinks[0]); i++)
		if (strcmp(sinks[i]->name, type) == 0)
			return sinks[i];
	return NULL;
}
