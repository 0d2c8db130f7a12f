#include "router/events/registry.h"

#include <gtest/gtest.h>

namespace portal::events {
namespace {

Caller user(std::string name, std::vector<std::string> labels = {}) {
  return Caller{std::move(name), std::move(labels)};
}

std::vector<std::string> subscribers(const Registry& r, std::string_view path) {
  std::vector<std::string> out;
  for (const auto* s : r.match(path)) out.push_back(s->subscriber);
  return out;
}

using Names = std::vector<std::string>;

TEST(Registry, DeclareDuplicateUndeclare) {
  Registry r;
  ASSERT_TRUE(r.declare({"/events/shell/exec", "Command run", {"admin"}, "shell"}).ok());
  auto dup = r.declare({"/events/shell/exec", "again", {}, "other"});
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code, 409);
  EXPECT_EQ(r.find("/events/shell/exec")->owner, "shell");
  EXPECT_FALSE(r.declare({"/events/x/*", "", {}, "m"}).ok());
  EXPECT_FALSE(r.declare({"relative", "", {}, "m"}).ok());
  EXPECT_EQ(r.undeclare("/events/shell/exec", "other").error().code, 403);
  EXPECT_TRUE(r.undeclare("/events/shell/exec", "shell").ok());
  EXPECT_EQ(r.undeclare("/events/shell/exec", "shell").error().code, 404);
  EXPECT_EQ(r.event_count(), 0u);
}

TEST(Registry, UndeclareOwnerRemovesOnlyThatOwner) {
  Registry r;
  ASSERT_TRUE(r.declare({"/events/a/1", "", {}, "a"}).ok());
  ASSERT_TRUE(r.declare({"/events/a/2", "", {}, "a"}).ok());
  ASSERT_TRUE(r.declare({"/events/b/1", "", {}, "b"}).ok());
  EXPECT_EQ(r.undeclare_owner("a"), 2u);
  EXPECT_EQ(r.event_count(), 1u);
  EXPECT_NE(r.find("/events/b/1"), nullptr);
}

TEST(Registry, AclAtSubscribe) {
  Registry r;
  ASSERT_TRUE(r.declare({"/events/sec", "", {"admin"}, "m"}).ok());
  ASSERT_TRUE(r.declare({"/events/open", "", {}, "m"}).ok());
  auto denied = r.subscribe("/events/sec", "cli:1", user("bob", {"dev"}));
  ASSERT_FALSE(denied.ok());
  EXPECT_EQ(denied.error().code, 403);
  EXPECT_EQ(denied.error().message, "Subscribe denied");
  EXPECT_FALSE(r.subscribe("/events/sec", "cli:2", user("")).ok());
  EXPECT_TRUE(r.subscribe("/events/sec", "cli:3", user("alice", {"dev", "admin"})).ok());
  EXPECT_TRUE(r.subscribe("/events/sec", "cli:4", user("root")).ok());
  EXPECT_TRUE(r.subscribe("/events/sec", "mod", system_caller()).ok());
  EXPECT_TRUE(r.subscribe("/events/open", "cli:5", user("")).ok());
  // Patterns are accepted; deliveries are filtered.
  EXPECT_TRUE(r.subscribe("/events/*", "cli:6", user("bob", {"dev"})).ok());
  // Undeclared exact path: accepted unless the caller requires a declared event.
  EXPECT_TRUE(r.subscribe("/events/nope", "cli:7", user("bob")).ok());
  EXPECT_EQ(r.subscribe("/events/nope", "cli:8", user("bob"), true).error().code, 404);
  EXPECT_EQ(r.subscribe("bad", "cli:9", user("bob")).error().code, 400);
}

TEST(Registry, AclAtDelivery) {
  Registry r;
  ASSERT_TRUE(r.declare({"/events/sec", "", {"admin"}, "m"}).ok());
  ASSERT_TRUE(r.declare({"/events/open", "", {}, "m"}).ok());
  ASSERT_TRUE(r.subscribe("*", "anon", user("")).ok());
  ASSERT_TRUE(r.subscribe("/events/*", "bob", user("bob", {"dev"})).ok());
  ASSERT_TRUE(r.subscribe("/events/*", "alice", user("alice", {"admin"})).ok());
  ASSERT_TRUE(r.subscribe("*", "sys", system_caller()).ok());
  ASSERT_TRUE(r.subscribe("/events/sec", "root", user("root")).ok());
  EXPECT_EQ(subscribers(r, "/events/open"), (Names{"anon", "bob", "alice", "sys"}));
  EXPECT_EQ(subscribers(r, "/events/sec"), (Names{"alice", "sys", "root"}));
  // Undeclared: only root holders.
  EXPECT_EQ(subscribers(r, "/events/kv/set"), (Names{"sys"}));
  EXPECT_EQ(subscribers(r, "/elsewhere"), (Names{"sys"}));
}

TEST(Registry, LabelsChangedBetweenSubscribeAndDelivery) {
  Registry r;
  ASSERT_TRUE(r.declare({"/events/e", "", {}, "m"}).ok());
  ASSERT_TRUE(r.subscribe("/events/e", "bob", user("bob", {"dev"})).ok());
  EXPECT_EQ(subscribers(r, "/events/e"), (Names{"bob"}));
  // The event becomes labelled: bob no longer receives it.
  ASSERT_TRUE(r.set_labels("/events/e", {"admin"}).ok());
  EXPECT_TRUE(subscribers(r, "/events/e").empty());
  // bob gains the label: deliveries resume.
  EXPECT_EQ(r.update_caller("bob", user("bob", {"dev", "admin"})), 1u);
  EXPECT_EQ(subscribers(r, "/events/e"), (Names{"bob"}));
  // bob loses it again.
  r.update_caller("bob", user("bob", {}));
  EXPECT_TRUE(subscribers(r, "/events/e").empty());
  // The event is undeclared: only root remains eligible.
  ASSERT_TRUE(r.undeclare("/events/e", "m").ok());
  r.update_caller("bob", user("bob", {"admin"}));
  EXPECT_TRUE(subscribers(r, "/events/e").empty());
  r.update_caller("bob", user("bob", {"root"}));
  EXPECT_EQ(subscribers(r, "/events/e"), (Names{"bob"}));
}

TEST(Registry, DedupAndUnsubscribe) {
  Registry r;
  auto a = r.subscribe("/events/*", "m1", system_caller());
  auto b = r.subscribe("/events/*", "m1", system_caller());
  auto c = r.subscribe("/events/x", "m1", system_caller());
  auto d = r.subscribe("/events/*", "m2", system_caller());
  ASSERT_TRUE(a.ok() && b.ok() && c.ok() && d.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_NE(*a, *c);
  EXPECT_EQ(r.subscription_count(), 3u);
  EXPECT_EQ(r.subscription(*c)->pattern, "/events/x");
  EXPECT_TRUE(r.unsubscribe(*d));
  EXPECT_FALSE(r.unsubscribe(*d));
  EXPECT_TRUE(r.unsubscribe("/events/x", "m1"));
  EXPECT_FALSE(r.unsubscribe("/events/x", "m1"));
  ASSERT_TRUE(r.subscribe("/a", "m1", system_caller()).ok());
  EXPECT_EQ(r.unsubscribe_all("m1"), 2u);
  EXPECT_EQ(r.subscription_count(), 0u);
  EXPECT_TRUE(r.match("/events/x").empty());
}

TEST(Registry, ListingText) {
  Registry r;
  EXPECT_EQ(r.listing(), "Events registered: 0\n  (none)\n");
  ASSERT_TRUE(r.declare({"/events/myapp/counter_changed", "Counter changed", {}, "myapp"}).ok());
  ASSERT_TRUE(r.declare({"/events/shell/exec", "Command executed", {"admin", "ops"}, "shell"}).ok());
  const std::string expected =
      "Events registered: 2\n"
      "  /events/myapp/counter_changed            [myapp]\n"
      "    Counter changed\n"
      "  /events/shell/exec                       [shell] labels:admin,ops\n"
      "    Command executed\n";
  EXPECT_EQ(r.listing(), expected);
  // A path longer than 40 is not truncated.
  Registry r2;
  std::string longp = "/events/" + std::string(40, 'z');
  ASSERT_TRUE(r2.declare({longp, "d", {}, "m"}).ok());
  EXPECT_EQ(r2.listing(), "Events registered: 1\n  " + longp + " [m]\n    d\n");
}

TEST(Registry, ListingRowFilterForViewer) {
  Registry r;
  ASSERT_TRUE(r.declare({"/events/a", "A", {}, "m"}).ok());
  ASSERT_TRUE(r.declare({"/events/b", "B", {"admin"}, "m"}).ok());
  Caller bob = user("bob", {"dev"});
  EXPECT_EQ(r.listing(&bob),
            "Events registered: 1\n  /events/a                                [m]\n    A\n");
  Caller root = user("root");
  EXPECT_EQ(r.listing(&root), r.listing());
}

TEST(Registry, ManyEventsNoCap) {
  Registry r;
  for (int i = 0; i < 1000; ++i)
    ASSERT_TRUE(r.declare({"/events/m/e" + std::to_string(i), "", {}, "m"}).ok());
  EXPECT_EQ(r.event_count(), 1000u);
  EXPECT_TRUE(r.listing().starts_with("Events registered: 1000\n"));
}

}  // namespace
}  // namespace portal::events
