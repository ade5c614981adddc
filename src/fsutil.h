/* fsutil.h — file-system steps that must survive a power loss. */
#ifndef WB_FSUTIL_H
#define WB_FSUTIL_H

/* fsyncs a directory, so that names created, renamed or removed in it are
 * durable. 0 or -1 with errno set. */
int wb_fsync_dir(const char *dir);

/* fsyncs the directory holding path (its parent). 0 or -1 with errno. */
int wb_fsync_parent(const char *path);

/* Creates dir and any missing parents (mode 0755). Every directory it
 * creates is made durable in its parent (the parent is fsynced), so a
 * power loss cannot take away a directory whose contents were later
 * fsynced and acknowledged. 0 or -1 with errno set. */
int wb_mkdir_durable(const char *dir);

#endif
