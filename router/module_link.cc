#include "router/module_link.h"

namespace portal::router {

namespace {
constexpr int kBatchLimit = 256;
}

WorkerLink::WorkerLink(EventLoop& loop, std::string module, std::uint64_t generation,
                       std::unique_ptr<ipc::Endpoint> endpoint, EnvelopeSink sink, BrokenSink broken,
                       BatchDone batch_done)
    : ModuleLink(std::move(module), generation),
      loop_(loop),
      endpoint_(std::move(endpoint)),
      sink_(std::move(sink)),
      broken_(std::move(broken)),
      batch_done_(std::move(batch_done)),
      alive_(std::make_shared<bool>(true)) {}

WorkerLink::~WorkerLink() {
  *alive_ = false;
  if (watching_) loop_.unwatch(endpoint_->wait_fd());
}

void WorkerLink::start() {
  loop_.watch(endpoint_->wait_fd(), [this] { on_bell(); });
  watching_ = true;
  loop_.post([this, alive = alive_] {
    if (*alive) process();
  });
}

bool WorkerLink::deliver(const pb::Envelope& env) {
  const std::size_t size = env.ByteSizeLong();
  if (size > ipc::kMaxMessageBytes) return false;  // the worker would drop the channel
  std::string out(size, '\0');
  env.SerializeWithCachedSizesToArray(reinterpret_cast<std::uint8_t*>(out.data()));
  endpoint_->send(std::move(out));
  return true;
}

void WorkerLink::flush() {
  endpoint_->flush();
  endpoint_->notify();
}

void WorkerLink::on_bell() {
  endpoint_->woke();
  process();
}

bool WorkerLink::probe() {
  if (broken_flag_ || !endpoint_->has_data()) return false;
  process();
  return true;
}

bool WorkerLink::arm() {
  if (broken_flag_) return true;
  if (endpoint_->prepare_sleep()) return true;
  process();
  return false;
}

void WorkerLink::process() {
  auto alive = alive_;
  for (int i = 0; i < kBatchLimit && !broken_flag_; ++i) {
    std::span<const std::byte> rec;
    std::string why;
    ipc::ReadStatus st = endpoint_->receive(rec, &why);
    if (st == ipc::ReadStatus::empty) break;
    if (st == ipc::ReadStatus::corrupt) {
      broken_flag_ = true;
      broken_(*this, why);
      return;
    }
    bool parsed = scratch_.ParseFromArray(rec.data(), static_cast<int>(rec.size()));
    endpoint_->release();
    if (!parsed) {
      broken_flag_ = true;
      broken_(*this, "record does not parse as an envelope");
      return;
    }
    sink_(*this, scratch_);
    if (!*alive) return;
  }
  // Space may have been freed for our own queued output.
  endpoint_->flush();
  endpoint_->notify();
  batch_done_();
}

}  // namespace portal::router
