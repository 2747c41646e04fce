#include "server/server_config.h"

#include <algorithm>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "model/lstm_cpu.h"

namespace ner::server {
namespace {

using ::testing::HasSubstr;

TEST(ServerConfigTest, DefaultsAreValid) {
  const ServerConfig config;
  EXPECT_TRUE(config.Validate().ok()) << config.Validate();
  absl::StatusOr<ModelRegistryOptions> registry = config.RegistryOptions();
  ASSERT_TRUE(registry.ok());
  EXPECT_EQ(registry->default_model_name, "default");
  EXPECT_EQ(registry->load.device, torch::Device(torch::kCPU));
  EXPECT_EQ(registry->load.encoder_dtype, torch::kFloat32);
  EXPECT_FALSE(registry->max_forward_tokens.has_value()) << "unset = per model";
  ServerConfig bounded;
  bounded.max_forward_tokens = 1024;
  EXPECT_EQ(bounded.RegistryOptions()->max_forward_tokens, 1024);
}

// auto: bfloat16 exactly where the BiLSTM's bf16 products run on AMX tiles, float32 elsewhere.
TEST(ServerConfigTest, AutoEncoderDtypeFollowsTheCpu) {
  ServerConfig config;
  config.encoder_dtype = "auto";
  absl::StatusOr<ModelRegistryOptions> registry = config.RegistryOptions();
  ASSERT_TRUE(registry.ok()) << registry.status();
  EXPECT_EQ(registry->load.encoder_dtype,
            model::lstm_cpu::AmxProductsSupported() ? torch::kBFloat16 : torch::kFloat32);
  config.encoder_dtype = "bf16";
  EXPECT_EQ(config.RegistryOptions()->load.encoder_dtype, torch::kBFloat16);
}

TEST(ServerConfigTest, RejectsEachBadField) {
  struct Case {
    const char* field;
    void (*change)(ServerConfig&);
  };
  const Case cases[] = {
      {"listen_address", [](ServerConfig& c) { c.listen_address = ""; }},
      {"metrics_address", [](ServerConfig& c) { c.metrics_address = ""; }},
      {"model_root", [](ServerConfig& c) { c.model_root = ""; }},
      {"data_root", [](ServerConfig& c) { c.data_root = ""; }},
      {"default_model_path", [](ServerConfig& c) { c.default_model_path = ""; }},
      {"default_model_name", [](ServerConfig& c) { c.default_model_name = "../x"; }},
      {"device", [](ServerConfig& c) { c.device = "tpu"; }},
      {"encoder_dtype", [](ServerConfig& c) { c.encoder_dtype = "int3"; }},
      {"max_batch_size", [](ServerConfig& c) { c.batcher.max_batch_size = 0; }},
      {"max_forward_tokens", [](ServerConfig& c) { c.max_forward_tokens = -1; }},
      {"max_documents_per_request", [](ServerConfig& c) { c.limits.max_documents = 0; }},
      {"max_document_bytes", [](ServerConfig& c) { c.limits.max_document_bytes = 0; }},
      {"max_stream_inflight_documents",
       [](ServerConfig& c) { c.max_stream_inflight_documents = 0; }},
      {"max_message_bytes", [](ServerConfig& c) { c.max_message_bytes = 1000; }},
      {"blocking_threads", [](ServerConfig& c) { c.blocking_threads = 0; }},
      {"drain_grace", [](ServerConfig& c) { c.drain_grace = absl::Seconds(-1); }},
  };
  for (const Case& c : cases) {
    ServerConfig config;
    c.change(config);
    const absl::Status status = config.Validate();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.field << ": " << status;
    EXPECT_THAT(std::string(status.message()), HasSubstr(c.field)) << status;
  }
}

TEST(ServerConfigTest, OptionalFieldsMayBeUnset) {
  ServerConfig config;
  config.metrics_address = std::nullopt;
  config.default_model_path = std::nullopt;
  config.intra_op_threads = std::nullopt;
  EXPECT_TRUE(config.Validate().ok());
  // Unset intra-op threads: the cores shared out among the batcher's workers.
  for (const int workers : {1, 2, 64}) {
    config.batcher.num_workers = workers;
    EXPECT_EQ(config.ModelRuntimeOptions().intra_op_threads,
              std::max(1, model::OnlineCores() / workers));
  }
  config.intra_op_threads = 3;
  EXPECT_EQ(config.ModelRuntimeOptions().intra_op_threads, 3);
}

}  // namespace
}  // namespace ner::server
