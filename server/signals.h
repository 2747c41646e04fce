#ifndef NER_SERVER_SIGNALS_H_
#define NER_SERVER_SIGNALS_H_

namespace ner::server {

// Termination signals handled synchronously: block SIGTERM and SIGINT in the calling thread
// before any other thread starts (threads inherit the mask, so no thread is interrupted by
// them), then wait for one in the main thread. No async-signal-safety concerns arise, since no
// handler runs. Call BlockTerminationSignals() first thing in main.
void BlockTerminationSignals();

// Blocks until SIGTERM or SIGINT arrives; returns its number.
int WaitForTerminationSignal();

}  // namespace ner::server

#endif  // NER_SERVER_SIGNALS_H_
