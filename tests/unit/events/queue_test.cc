#include "router/events/queue.h"

#include <gtest/gtest.h>

namespace portal::events {
namespace {

QueuedEvent ev(int i, std::size_t body = 0) {
  return QueuedEvent{"/e/" + std::to_string(i), std::string(body, 'x'), static_cast<std::uint64_t>(i)};
}

TEST(Queue, DefaultsAre1024EventsAnd4MiB) {
  DeliveryQueue q;
  EXPECT_EQ(q.limits().max_events, 1024u);
  EXPECT_EQ(q.limits().max_bytes, 4u * 1024 * 1024);
}

TEST(Queue, CountBoundDropsOldest) {
  DeliveryQueue q({3, 1 << 20});
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(q.push(ev(i)));
  EXPECT_EQ(q.size(), 3u);
  EXPECT_EQ(q.dropped(), 2u);
  auto batch = q.pop_batch();
  ASSERT_EQ(batch.size(), 3u);
  EXPECT_EQ(batch[0].trace_id, 2u);
  EXPECT_EQ(batch[2].trace_id, 4u);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.bytes(), 0u);
}

TEST(Queue, ByteBoundDropsOldestAndOversizedItself) {
  // each ev(i, 10) costs 4 + 10 = 14 bytes
  DeliveryQueue q({100, 30});
  EXPECT_TRUE(q.push(ev(1, 10)));
  EXPECT_TRUE(q.push(ev(2, 10)));
  EXPECT_EQ(q.bytes(), 28u);
  EXPECT_TRUE(q.push(ev(3, 10)));  // drops #1
  EXPECT_EQ(q.size(), 2u);
  EXPECT_EQ(q.dropped(), 1u);
  EXPECT_FALSE(q.push(ev(4, 100)));  // bigger than the whole budget
  EXPECT_EQ(q.dropped(), 2u);
  EXPECT_EQ(q.size(), 2u);
  auto b = q.pop_batch();
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b[0].trace_id, 2u);
}

TEST(Queue, PopBatchLimits) {
  DeliveryQueue q({100, 1000});
  for (int i = 0; i < 10; ++i) (void)q.push(ev(i, 10));
  EXPECT_EQ(q.pop_batch(4).size(), 4u);
  EXPECT_EQ(q.pop_batch(100, 30).size(), 2u);  // 14 + 14 fits, a third would not
  EXPECT_EQ(q.pop_batch(100, 1).size(), 1u);   // always at least one
  EXPECT_EQ(q.size(), 3u);
  EXPECT_EQ(q.bytes(), 42u);
  EXPECT_TRUE(DeliveryQueue().pop_batch().empty());
}

TEST(Queue, ZeroCapacityDropsEverything) {
  DeliveryQueue q({0, 100});
  EXPECT_FALSE(q.push(ev(1)));
  EXPECT_EQ(q.dropped(), 1u);
  EXPECT_TRUE(q.empty());
}

}  // namespace
}  // namespace portal::events
