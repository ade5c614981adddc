/* cmd_status.h — `waybill status`: the checkpoint, the server's position
 * and the lag, as a table for people or as JSON. */
#ifndef WB_CMD_STATUS_H
#define WB_CMD_STATUS_H

/* `waybill status -c FILE [--json | --table]`: argv[0] is "status".
 * Prints JSON with --json (and by default when standard output is not a
 * terminal), a readable table otherwise. The local checkpoint is shown
 * even when the source cannot be reached ("source.reachable": false).
 * Returns the exit code: 0; 1 when the source is unreachable or reports a
 * problem (the status is printed all the same); 2 for usage or
 * configuration errors. Named like main.c's other commands. */
int cmd_status(int argc, char **argv);

#endif
