// The handlers behind kCommands (commands.cc). Each ends with Session::done(),
// at once or when its last response arrived.
#pragma once

#include "commands.h"

namespace portal::cli::handlers {

void help(Session &, const Invocation &);
void status(Session &, const Invocation &);
void version(Session &, const Invocation &);
void pwd(Session &, const Invocation &);
void cd(Session &, const Invocation &);
void ls(Session &, const Invocation &);
void get(Session &, const Invocation &);
void set(Session &, const Invocation &);
void login(Session &, const Invocation &);
void logout(Session &, const Invocation &);
void whoami(Session &, const Invocation &);
void passwd(Session &, const Invocation &);
void key(Session &, const Invocation &);
void key_rotate(Session &, const Invocation &);
void user_list(Session &, const Invocation &);
void user_info(Session &, const Invocation &);
void user_create(Session &, const Invocation &);
void user_passwd(Session &, const Invocation &);
void user_delete(Session &, const Invocation &);
void group_list(Session &, const Invocation &);
void group_info(Session &, const Invocation &);
void group_create(Session &, const Invocation &);
void group_adduser(Session &, const Invocation &);
void group_deluser(Session &, const Invocation &);
void module_list(Session &, const Invocation &);
void module_status(Session &, const Invocation &);
void module_action(Session &,
                   const Invocation &);  // load, unload, reload, restart, stop, start
void path_list(Session &, const Invocation &);
void storage(Session &, const Invocation &);
void events(Session &, const Invocation &);
void locks(Session &, const Invocation &);
void lock(Session &, const Invocation &);
void unlock(Session &, const Invocation &);
void subscribe(Session &, const Invocation &);
void unsubscribe(Session &, const Invocation &);
void verbose(Session &, const Invocation &);
void debug(Session &, const Invocation &);
void config_get(Session &, const Invocation &);
void config_set(Session &, const Invocation &);
void config_list(Session &, const Invocation &);
void top(Session &, const Invocation &);
void quit(Session &, const Invocation &);

}  // namespace portal::cli::handlers
