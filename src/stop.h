/* stop.h — the process-wide stop request, set by the SIGTERM/SIGINT handler
 * that main() installs, and read wherever waybill waits (the pipeline's
 * loop, connecting to a server). */
#ifndef WB_STOP_H
#define WB_STOP_H

#include <signal.h>

/* Non-zero once a stop was requested. Signal handlers only set it. */
extern volatile sig_atomic_t wb_stop_requested;

#endif
