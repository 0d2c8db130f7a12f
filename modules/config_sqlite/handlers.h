// The storage paths of docs/PROTOCOL.md §10, as functions of the database and a request.
// Everything travels in headers; lists come back as repeated response headers.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "database.h"
#include "portal/message.h"

namespace portal::config_sqlite {

// A user, group or module name: 1-64 bytes of [A-Za-z0-9._-] not starting with '.'.
bool valid_name(std::string_view name);
// A config key: the same alphabet, 1-128 bytes.
bool valid_key(std::string_view key);

// /<m>/storage/users       GET
Response users_request(Database& db, const Message& msg);
// /<m>/storage/user        GET name | SET name password_hash api_key groups | CALL action=delete name
Response user_request(Database& db, const Message& msg);
// /<m>/storage/groups      GET
Response groups_request(Database& db, const Message& msg);
// /<m>/storage/group       GET name | SET name description created_by | CALL action=delete name
Response group_request(Database& db, const Message& msg);
// /<m>/storage/config      GET module key | SET module key value
Response config_request(Database& db, const Message& msg);
// /<m>/storage/configs     GET [module]
Response configs_request(Database& db, const Message& msg);

}  // namespace portal::config_sqlite
