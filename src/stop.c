/* stop.c — the process-wide stop request (see stop.h). */
#include "stop.h"

volatile sig_atomic_t wb_stop_requested;
volatile sig_atomic_t wb_hup_requested;
