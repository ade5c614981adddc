/* pipeline.h — `waybill run`: source thread → bounded queue → encoder → sink →
 * checkpoint. */
#ifndef WB_PIPELINE_H
#define WB_PIPELINE_H

#include <signal.h>
#include <stdbool.h>

#include "config.h"
#include "error.h"
#include "position.h"

struct wb_run_options {
	int stop_when_idle_s; /* < 0: run until *stop */
	/* `run --resnapshot`: snapshot the captured tables again (online)
	 * before streaming, as a way past a gap (see wb_on_gap) */
	bool resnapshot;
	/* `run --endpos`: stop once every change at or below endpos is
	 * delivered and checkpointed; nothing past it is written */
	bool have_endpos;
	wb_position_t endpos;
};

/* Runs the pipeline of cfg until *stop becomes non-zero (then drains what
 * is queued, checkpoints and returns 0), until idle (see options), or until
 * a failure (returns its code with err filled; nothing past what the sink
 * delivered is checkpointed). */
int wb_pipeline_run(const struct wb_config *cfg,
		    const struct wb_run_options *opt,
		    volatile sig_atomic_t *stop, wb_error_t *err);

#endif
