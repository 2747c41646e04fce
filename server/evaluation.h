#ifndef NER_SERVER_EVALUATION_H_
#define NER_SERVER_EVALUATION_H_

#include <grpcpp/server_context.h>
#include <grpcpp/support/server_callback.h>

#include "ner/v1/ner.pb.h"
#include "server/ner_service.h"

namespace ner::server {

// Runs one Evaluate call and finishes `reactor` with its outcome. The dataset is read on the
// blocking pool (a file under the data root) or taken from the request (inline documents, each
// validated first); its documents then run through the same inference queue as Recognize, at
// most service.max_stream_inflight_documents at a time, so a large dataset neither floods the
// queue nor sits in memory as prepared pieces. Scores are entity-level exact match
// (model::EntityMetrics). Errors: INVALID_ARGUMENT (no dataset, a bad path or document, an
// empty dataset), NOT_FOUND (model or file), PERMISSION_DENIED (path escapes the data root),
// RESOURCE_EXHAUSTED (the queue is full: retry later), DEADLINE_EXCEEDED, CANCELLED.
// `service`'s pointers must outlive the call; the others are the call's own.
void StartEvaluation(const ServiceContext& service, grpc::CallbackServerContext* context,
                     const v1::EvaluateRequest* request, v1::EvaluateResponse* response,
                     grpc::ServerUnaryReactor* reactor);

}  // namespace ner::server

#endif  // NER_SERVER_EVALUATION_H_
