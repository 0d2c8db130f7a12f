#include "router/module_link.h"

#include <unistd.h>

#include <boost/asio/post.hpp>

namespace portal::router {

namespace {
constexpr int kBatchLimit = 256;
}

WorkerLink::WorkerLink(boost::asio::io_context& io, std::string module, std::uint64_t generation,
                       std::unique_ptr<ipc::Endpoint> endpoint, EnvelopeSink sink, BrokenSink broken,
                       BatchDone batch_done)
    : ModuleLink(std::move(module), generation),
      endpoint_(std::move(endpoint)),
      wait_(io, ::dup(endpoint_->wait_fd())),
      sink_(std::move(sink)),
      broken_(std::move(broken)),
      batch_done_(std::move(batch_done)),
      alive_(std::make_shared<bool>(true)) {}

WorkerLink::~WorkerLink() {
  *alive_ = false;
  boost::system::error_code ec;
  wait_.cancel(ec);
  wait_.close(ec);
}

void WorkerLink::start() {
  boost::asio::post(wait_.get_executor(), [this, alive = alive_] {
    if (*alive) on_ready();
  });
}

void WorkerLink::deliver(const pb::Envelope& env) {
  out_.clear();
  env.SerializeToString(&out_);
  endpoint_->send(std::move(out_));
  out_ = std::string();
}

void WorkerLink::flush() {
  endpoint_->flush();
  endpoint_->notify();
}

void WorkerLink::wait() {
  wait_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                   [this, alive = alive_](const boost::system::error_code& ec) {
                     if (!*alive || ec) return;
                     endpoint_->woke();
                     on_ready();
                   });
}

void WorkerLink::on_ready() {
  auto alive = alive_;
  for (;;) {
    bool more = drain();
    if (!*alive || broken_flag_) return;
    // Space may have been freed for our own queued output.
    endpoint_->flush();
    endpoint_->notify();
    batch_done_();
    if (!*alive) return;
    if (more) {
      boost::asio::post(wait_.get_executor(), [this, alive] {
        if (*alive) on_ready();
      });
      return;
    }
    if (endpoint_->prepare_sleep()) break;
  }
  wait();
}

bool WorkerLink::drain() {
  auto alive = alive_;
  for (int i = 0; i < kBatchLimit; ++i) {
    std::span<const std::byte> rec;
    std::string why;
    ipc::ReadStatus st = endpoint_->receive(rec, &why);
    if (st == ipc::ReadStatus::empty) return false;
    if (st == ipc::ReadStatus::corrupt) {
      broken_flag_ = true;
      broken_(*this, why);
      return false;
    }
    bool parsed = scratch_.ParseFromArray(rec.data(), static_cast<int>(rec.size()));
    endpoint_->release();
    if (!parsed) {
      broken_flag_ = true;
      broken_(*this, "record does not parse as an envelope");
      return false;
    }
    sink_(*this, scratch_);
    if (!*alive) return false;
  }
  return true;
}

}  // namespace portal::router
