/* stop.h — the process-wide stop request, set by the SIGTERM/SIGINT handler
 * that main() installs, and read wherever waybill waits (the pipeline's
 * loop, connecting to a server). */
#ifndef WB_STOP_H
#define WB_STOP_H

#include <signal.h>

/* Non-zero once a stop was requested. Signal handlers only set it. */
extern volatile sig_atomic_t wb_stop_requested;

/* Non-zero once SIGHUP arrived (`run` installs the handler): the pipeline
 * logs a status line and clears it. The configuration is not reloaded. */
extern volatile sig_atomic_t wb_hup_requested;

#endif
