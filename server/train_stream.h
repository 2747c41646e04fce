#ifndef NER_SERVER_TRAIN_STREAM_H_
#define NER_SERVER_TRAIN_STREAM_H_

#include <grpcpp/server_context.h>
#include <grpcpp/support/server_callback.h>

#include <memory>
#include <string>

#include "ner/v1/ner.pb.h"
#include "server/metrics.h"
#include "server/rpc_scope.h"
#include "server/train_jobs.h"

namespace ner::server {

// Streams the events of training job `job_id` (Train after submitting it, and WatchTrainJob):
// the latest snapshot at once, then each new one, until the job's final event, after which the
// stream ends OK. Events go out as serialised v1::TrainEvent messages (the RPCs are served raw,
// see wire_format.h). A slow reader only skips intermediate snapshots (each event is complete), so
// a job never waits for its watchers and memory stays bounded. The client going away ends the
// stream, never the job. NOT_FOUND for an unknown job. Deletes itself when done.
// `scope` is the call's, made when it started (and admitted).
grpc::ServerWriteReactor<grpc::ByteBuffer>* StartTrainEventStream(TrainJobManager* jobs,
                                                                  std::unique_ptr<RpcScope> scope,
                                                                  const std::string& job_id);

// A stream that ends at once with `status`.
grpc::ServerWriteReactor<grpc::ByteBuffer>* FailedTrainEventStream(std::unique_ptr<RpcScope> scope,
                                                                   const absl::Status& status);

}  // namespace ner::server

#endif  // NER_SERVER_TRAIN_STREAM_H_
