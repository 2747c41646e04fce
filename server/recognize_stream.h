#ifndef NER_SERVER_RECOGNIZE_STREAM_H_
#define NER_SERVER_RECOGNIZE_STREAM_H_

#include <grpcpp/server_context.h>
#include <grpcpp/support/server_callback.h>

#include <atomic>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "ner/v1/ner.pb.h"
#include "server/ner_service.h"
#include "server/recognize_request.h"
#include "server/rpc_scope.h"
#include "server/wire_format.h"

namespace ner::server {

// One RecognizeStream call. Every document read produces exactly one response, tagged by its
// id: its entities, or an in-band error (bad document, queue full, deadline) that leaves the
// stream open. Problems of a whole message (options on a later message, too many documents,
// unknown model or entity type) end the stream with that status.
//
// Flow control: a document counts as in flight from being read until its response has been
// written; while max_stream_inflight_documents are, no further message is read, so gRPC's flow
// control pushes back on the client and memory stays bounded whatever the corpus size (by the
// limit plus one message's documents).
//
// Ids must be non-empty and unique among the documents in flight; the stream does not remember
// finished ids (that would grow with the corpus).
//
// When the server drains (its CallGate closes) the stream reads no further message, answers the
// documents it has read, and ends with UNAVAILABLE, so that the client sends the rest to
// another replica (the client library does) instead of holding the drain up until its grace.
//
// Reactions, batcher completions and cancellation arrive on any thread; state is under mu_,
// gRPC operations are started outside it. Deletes itself in OnDone().
//
// Messages travel as raw bytes, parsed with ParseRequest (wire_format.h), so that a document
// whose text is not UTF-8 gets its own error naming the byte offset.
class RecognizeStreamReactor : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  // `service` (its pointers) must outlive the call.
  RecognizeStreamReactor(grpc::CallbackServerContext* context, const ServiceContext& service);

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  // gRPC operations decided under the lock and started after it.
  struct Actions {
    bool read = false;
    const grpc::ByteBuffer* write = nullptr;
    bool finish = false;
    absl::Status status;
  };

  // Handles one message; a non-OK result ends the stream.
  absl::Status HandleMessage(const v1::RecognizeStreamRequest& request,
                             const std::vector<MalformedDocument>& malformed);
  // Queues the error response of a document that was not (or could not be) recognised.
  void AddError(const std::string& id, const ServedModel* model, const absl::Status& status);
  // A submitted document's completion.
  void OnRecognized(const std::string& id, int64_t characters,
                    const std::shared_ptr<const ServedModel>& model,
                    const std::shared_ptr<const EntityFilter>& filter, RecognizeResult result);
  // How the gate's close listener reaches the reactor while it exists: `reactor` is cleared,
  // under `mu`, before the call finishes. Lock order: mu, then the reactor's mu_.
  struct CloseHook {
    absl::Mutex mu;
    RecognizeStreamReactor* reactor ABSL_GUARDED_BY(mu) = nullptr;
    int64_t listener ABSL_GUARDED_BY(mu) = 0;  // the gate's handle
  };
  // The gate's close listener: the stream drains.
  static void OnGateClosed(const std::shared_ptr<CloseHook>& hook);

  // Starts whatever the state allows next: a write, a read, or the final Finish.
  void Step();
  // Step() for a caller holding mu_, which it releases. A thread that is not running one of
  // gRPC's reactions (a batcher worker completing a document) must not let go of mu_ in between
  // changing the state and stepping: gRPC's OnDone, which deletes the reactor, waits for the
  // reactions in progress only, so another thread could finish the call meanwhile.
  void StepAndUnlock() ABSL_UNLOCK_FUNCTION(mu_);
  Actions NextActionsLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  grpc::CallbackServerContext* const context_;
  const ServiceContext& service_;
  RpcScope scope_;
  std::atomic<bool> cancelled_{false};  // OnCancel() came
  // The stream ends early (cancelled, failed): its queued documents need not run. Read by the
  // batcher's IsCancelled polls.
  std::atomic<bool> abandoned_{false};

  grpc::ByteBuffer request_;               // the read in progress writes here
  std::shared_ptr<CloseHook> close_hook_;  // null when not admitted or without a gate

  absl::Mutex mu_;
  bool got_first_message_ ABSL_GUARDED_BY(mu_) = false;
  v1::RecognizeOptions options_ ABSL_GUARDED_BY(mu_);  // from the first message
  bool reading_ ABSL_GUARDED_BY(mu_) = false;          // a read is outstanding
  bool read_closed_ ABSL_GUARDED_BY(mu_) = false;      // the client half-closed (or failed)
  bool writing_ ABSL_GUARDED_BY(mu_) = false;          // a write is outstanding
  bool write_failed_ ABSL_GUARDED_BY(mu_) = false;     // the client is gone
  bool finished_ ABSL_GUARDED_BY(mu_) = false;         // Finish was called
  bool draining_ ABSL_GUARDED_BY(mu_) = false;         // the server drains: read no more
  // Threads between deciding on an operation and starting it: Finish waits for them, since
  // after Finish the reactor may be deleted at any moment.
  int starting_ops_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status fatal_ ABSL_GUARDED_BY(mu_);     // ends the stream once the queue is quiet
  int64_t in_flight_ ABSL_GUARDED_BY(mu_) = 0;  // documents read and not yet answered
  int64_t submitted_ ABSL_GUARDED_BY(mu_) = 0;  // documents in the inference queue
  absl::flat_hash_set<std::string> ids_ ABSL_GUARDED_BY(mu_);             // ids in flight
  std::deque<v1::RecognizeStreamResponse> pending_ ABSL_GUARDED_BY(mu_);  // to be written
  grpc::ByteBuffer writing_response_;  // the write in progress reads this
};

}  // namespace ner::server

#endif  // NER_SERVER_RECOGNIZE_STREAM_H_
