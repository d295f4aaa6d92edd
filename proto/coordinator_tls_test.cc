#include "proto/coordinator_tls.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace scalelaw {
namespace {

ClientTls Client(std::string ca, std::string cert = "", std::string key = "") {
  ClientTls tls;
  tls.ca_file = std::move(ca);
  tls.cert_file = std::move(cert);
  tls.key_file = std::move(key);
  return tls;
}

ServerTls Server(std::string cert, std::string key, std::string ca = "") {
  ServerTls tls;
  tls.cert_file = std::move(cert);
  tls.key_file = std::move(key);
  tls.ca_file = std::move(ca);
  return tls;
}

TEST(IsLoopbackAddressTest, LoopbackTargets) {
  for (const char* address :
       {"127.0.0.1:50051", "127.3.2.1:1", "localhost:50051", "LocalHost:1", "[::1]:50051", "::1",
        "dns:///localhost:50051", "ipv4:127.0.0.1:50051", "ipv6:[::1]:50051",
        "[::ffff:127.0.0.1]:50051", "unix:/tmp/coordinator.sock", "127.0.0.1"}) {
    EXPECT_TRUE(IsLoopbackAddress(address)) << address;
  }
}

TEST(IsLoopbackAddressTest, RemoteTargets) {
  for (const char* address :
       {"10.0.0.5:50051", "0.0.0.0:50051", "128.0.0.1:1", "coordinator.ml.svc:50051",
        "localhost.evil.example:1", "[::]:50051", "[2001:db8::1]:50051", "dns:///10.0.0.5:1",
        "dns://8.8.8.8/localhost-not:1", "ipv4:10.0.0.1:1,127.0.0.1:1", "", "1127.0.0.1:1"}) {
    EXPECT_FALSE(IsLoopbackAddress(address)) << address;
  }
}

TEST(CheckTokenTransportTest, RefusesATokenInClearTextOffLoopback) {
  const absl::Status refused = CheckTokenTransport("10.0.0.5:50051", /*has_token=*/true, {});
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.message().find("use --tls-ca"), std::string::npos) << refused;
  EXPECT_NE(refused.message().find("10.0.0.5:50051"), std::string::npos) << refused;
}

TEST(CheckTokenTransportTest, AllowsLoopbackTlsNoTokenOrTheOverride) {
  EXPECT_TRUE(CheckTokenTransport("127.0.0.1:50051", true, {}).ok());
  EXPECT_TRUE(CheckTokenTransport("10.0.0.5:50051", false, {}).ok());
  EXPECT_TRUE(CheckTokenTransport("10.0.0.5:50051", true, Client("ca.pem")).ok());
  ClientTls override_tls;
  override_tls.insecure_token_over_plaintext = true;
  EXPECT_TRUE(CheckTokenTransport("10.0.0.5:50051", true, override_tls).ok());
}

TEST(ConnectCoordinatorTest, RefusesBeforeDialling) {
  auto channel = ConnectCoordinator("10.0.0.5:50051", "secret", {});
  EXPECT_EQ(channel.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(ConnectCoordinator("10.0.0.5:50051", "", {}).ok());
}

class TlsFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("coordinator_tls_test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path) << text;
    return path;
  }
  std::filesystem::path dir_;
};

TEST_F(TlsFilesTest, ReadPemFileNamesTheFlag) {
  const auto missing = ReadPemFile((dir_ / "missing.pem").string(), "--tls-ca");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(missing.status().message().find("--tls-ca: cannot read"), std::string::npos)
      << missing.status();
  const auto empty = ReadPemFile(Write("empty.pem", ""), "--tls-cert");
  EXPECT_NE(empty.status().message().find("--tls-cert: "), std::string::npos) << empty.status();
  EXPECT_NE(empty.status().message().find("is empty"), std::string::npos) << empty.status();
  const auto text = ReadPemFile(Write("text.pem", "hello"), "--tls-key");
  EXPECT_NE(text.status().message().find("--tls-key: "), std::string::npos) << text.status();
  EXPECT_NE(text.status().message().find("not PEM"), std::string::npos) << text.status();
  const std::string pem = "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n";
  const auto ok = ReadPemFile(Write("ok.pem", pem), "--tls-ca");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(*ok, pem);
}

TEST_F(TlsFilesTest, CertificateAndKeyGoTogether) {
  const std::string pem = Write("x.pem", "-----BEGIN X-----\n-----END X-----\n");
  const auto client = ClientCredentials(Client(pem, pem));
  EXPECT_NE(client.status().message().find("--tls-key: required with --tls-cert"),
            std::string::npos)
      << client.status();
  const auto server = ServerCredentials(Server(pem, "", pem));
  EXPECT_NE(server.status().message().find("--tls-key: required to serve TLS"), std::string::npos)
      << server.status();
  const auto server_ca_only = ServerCredentials(Server("", "", pem));
  EXPECT_NE(server_ca_only.status().message().find("--tls-cert: required"), std::string::npos)
      << server_ca_only.status();
  const auto missing_ca = ServerCredentials(Server(pem, pem, (dir_ / "no-ca.pem").string()));
  EXPECT_NE(missing_ca.status().message().find("--tls-ca: cannot read"), std::string::npos)
      << missing_ca.status();
  EXPECT_TRUE(ClientCredentials(Client(pem)).ok());
}

}  // namespace
}  // namespace scalelaw
