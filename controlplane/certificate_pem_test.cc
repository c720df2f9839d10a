// Tests of PEM inspection: chains, display fields, refusals, key checks.
#include "controlplane/certificate_pem.h"

#include <gtest/gtest.h>

#include <chrono>

#include "controlplane/test_pki.h"

namespace gw::controlplane {
namespace {

using testing::CertSpec;
using testing::make_ca;
using testing::make_cert;
using testing::TestCert;

std::int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::string refusal(const Result<CertificateDetails>& r) {
  if (r) return "accepted";
  EXPECT_EQ(r.error().code, Code::kInvalidArgument);
  return r.error().message;
}

std::string refusal(const Result<std::string>& r) {
  if (r) return "accepted";
  EXPECT_EQ(r.error().code, Code::kInvalidArgument);
  return r.error().message;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class CertificatePemTest : public ::testing::Test {
 protected:
  TestCert ca_ = make_ca("Test Root");
  TestCert leaf_ =
      make_cert(CertSpec{"mail.example.org",
                         {"DNS:mail.example.org", "DNS:localhost", "IP:127.0.0.1", "IP:::1"},
                         false,
                         -60,
                         3600,
                         "EC",
                         "",
                         ""},
                &ca_);
};

TEST_F(CertificatePemTest, LeafDetails) {
  const std::int64_t now = now_ms();
  auto details = inspect_certificate_chain(leaf_.cert_pem + ca_.cert_pem);
  ASSERT_TRUE(details) << details.error().message;
  const CertificateDetails& d = details.value();
  EXPECT_EQ(d.subject, "CN=mail.example.org,O=gw test");
  EXPECT_EQ(d.issuer, "CN=Test Root,O=gw test");
  EXPECT_EQ(d.subject_alt_names, (std::vector<std::string>{"DNS:mail.example.org", "DNS:localhost",
                                                           "IP:127.0.0.1", "IP:::1"}));
  EXPECT_NEAR(static_cast<double>(d.not_before_ms), static_cast<double>(now - 60'000), 5'000);
  EXPECT_NEAR(static_cast<double>(d.not_after_ms), static_cast<double>(now + 3'600'000), 5'000);
  EXPECT_EQ(d.chain_length, 2);
  ASSERT_EQ(d.fingerprint_sha256.size(), 32u * 3 - 1);
  for (std::size_t i = 2; i < d.fingerprint_sha256.size(); i += 3) {
    EXPECT_EQ(d.fingerprint_sha256[i], ':') << d.fingerprint_sha256;
  }
  EXPECT_EQ(d.fingerprint_sha256.find_first_not_of("0123456789ABCDEF:"), std::string::npos);
  EXPECT_NE(d.fingerprint_sha256,
            inspect_certificate_chain(ca_.cert_pem).value().fingerprint_sha256);

  gateway::v1::Certificate message;
  set_details(d, message);
  EXPECT_EQ(message.subject(), d.subject);
  EXPECT_EQ(message.subject_alt_names_size(), 4);
  EXPECT_EQ(message.not_after_ms(), d.not_after_ms);
  EXPECT_EQ(message.fingerprint_sha256(), d.fingerprint_sha256);
}

TEST_F(CertificatePemTest, CommentsAroundBlocksAreAllowed) {
  auto details =
      inspect_certificate_chain("# bundle made for tests\n" + ca_.cert_pem + "trailing words\n");
  ASSERT_TRUE(details) << details.error().message;
  EXPECT_EQ(details.value().chain_length, 1);
  EXPECT_TRUE(details.value().subject_alt_names.empty());
}

TEST_F(CertificatePemTest, RefusesWhatIsNotAChainOfCertificates) {
  EXPECT_EQ(refusal(inspect_certificate_chain("")), "certificate PEM is empty");
  EXPECT_EQ(refusal(inspect_certificate_chain("just some text\n")),
            "certificate PEM holds no \"-----BEGIN CERTIFICATE-----\" block");
  EXPECT_EQ(refusal(inspect_certificate_chain(leaf_.cert_pem + leaf_.key_pem)),
            "PEM block 2 is a \"PRIVATE KEY\" block, not a CERTIFICATE: give the private key "
            "separately (key_pem, --key)");

  // A block whose base64 is damaged, and one that is valid base64 but not DER X.509.
  std::string damaged = ca_.cert_pem;
  damaged[40] = '*';
  EXPECT_TRUE(contains(refusal(inspect_certificate_chain(leaf_.cert_pem + damaged)),
                       "PEM block 2 of the certificate is not valid PEM"))
      << refusal(inspect_certificate_chain(leaf_.cert_pem + damaged));
  EXPECT_TRUE(
      contains(refusal(inspect_certificate_chain("-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n"
                                                 "-----END CERTIFICATE-----\n")),
               "certificate 1 of the chain cannot be parsed"));
  // Cut off in the middle: no END line.
  const std::string cut = ca_.cert_pem.substr(0, ca_.cert_pem.size() / 2);
  EXPECT_NE(refusal(inspect_certificate_chain(cut)), "accepted");
  EXPECT_TRUE(contains(refusal(inspect_certificate_chain(std::string(kMaxPemSize + 1, 'a'))),
                       "larger than"));
}

TEST_F(CertificatePemTest, MatchingKeyIsAcceptedAndReturnedAsPkcs8) {
  auto key = check_private_key(leaf_.cert_pem + ca_.cert_pem, leaf_.key_pem);
  ASSERT_TRUE(key) << key.error().message;
  EXPECT_EQ(key.value().rfind("-----BEGIN " "PRIVATE KEY-----\n", 0), 0u) << key.value();
  // Round trip: the re-encoded key still matches.
  EXPECT_TRUE(check_private_key(leaf_.cert_pem, key.value()));
  // Extra non-key blocks (a certificate, EC PARAMETERS) in the key file are ignored.
  EXPECT_TRUE(check_private_key(leaf_.cert_pem, leaf_.cert_pem + leaf_.key_pem));
}

// A server's chain goes out as stored: each certificate must issue the one before it
// (RFC 5246 §7.4.2). Bundles of trust anchors (no key) are not chains and are not checked.
TEST_F(CertificatePemTest, ServerChainMustBeInIssuingOrder) {
  CertSpec intermediate_spec;
  intermediate_spec.common_name = "Test Intermediate";
  intermediate_spec.sans.clear();
  intermediate_spec.is_ca = true;
  const TestCert intermediate = make_cert(intermediate_spec, &ca_);
  const TestCert leaf = make_cert(CertSpec{}, &intermediate);
  EXPECT_TRUE(check_private_key(leaf.cert_pem + intermediate.cert_pem, leaf.key_pem));
  EXPECT_TRUE(
      check_private_key(leaf.cert_pem + intermediate.cert_pem + ca_.cert_pem, leaf.key_pem));

  // The root before the intermediate.
  EXPECT_EQ(refusal(check_private_key(leaf.cert_pem + ca_.cert_pem + intermediate.cert_pem,
                                      leaf.key_pem)),
            "certificate 2 of the chain (CN=Test Root,O=gw test) did not issue certificate 1 "
            "(issuer CN=Test Intermediate,O=gw test): a server's chain is its certificate "
            "first, then each issuer in order (RFC 5246 §7.4.2)");
  // Another CA's certificate after the leaf.
  const TestCert other_ca = make_ca("Other Root");
  EXPECT_TRUE(contains(refusal(check_private_key(leaf_.cert_pem + other_ca.cert_pem,
                                                 leaf_.key_pem)),
                       "certificate 2 of the chain (CN=Other Root,O=gw test) did not issue"));
  // Same subject name, other key: the signature is what decides.
  const TestCert impostor = make_ca("Test Root");
  EXPECT_TRUE(contains(refusal(check_private_key(leaf_.cert_pem + impostor.cert_pem,
                                                 leaf_.key_pem)),
                       "did not issue certificate 1"));
  // A CA bundle without a key is a set of trust anchors: any order.
  EXPECT_TRUE(inspect_certificate_chain(ca_.cert_pem + other_ca.cert_pem + leaf_.cert_pem));
}

TEST_F(CertificatePemTest, KeyRefusals) {
  // The CA's key does not belong to the leaf: the message names the leaf, not the key.
  const std::string mismatch = refusal(check_private_key(leaf_.cert_pem, ca_.key_pem));
  EXPECT_EQ(mismatch,
            "the private key does not match the first certificate of the chain "
            "(CN=mail.example.org,O=gw test)");
  EXPECT_EQ(refusal(check_private_key(leaf_.cert_pem, leaf_.cert_pem)),
            "private key PEM holds no PRIVATE KEY block");
  EXPECT_EQ(refusal(check_private_key(leaf_.cert_pem, leaf_.key_pem + ca_.key_pem)),
            "private key PEM holds 2 keys; give exactly one");
  EXPECT_TRUE(contains(refusal(check_private_key(leaf_.cert_pem,
                                                 "-----BEGIN " "ENCRYPTED PRIVATE KEY-----\naGVsbG8=\n"
                                                 "-----END ENCRYPTED PRIVATE KEY-----\n")),
                       "the private key is encrypted"));
  EXPECT_TRUE(contains(
      refusal(check_private_key(leaf_.cert_pem,
                                "-----BEGIN " "RSA PRIVATE KEY-----\n"
                                "Proc-Type: 4,ENCRYPTED\n"
                                "DEK-Info: AES-128-CBC,00112233445566778899AABBCCDDEEFF\n\n"
                                "aGVsbG8=\n-----END RSA PRIVATE KEY-----\n")),
      "the private key is encrypted"));
  EXPECT_TRUE(contains(refusal(check_private_key(leaf_.cert_pem,
                                                 "-----BEGIN " "PRIVATE KEY-----\naGVsbG8=\n"
                                                 "-----END PRIVATE KEY-----\n")),
                       "private key cannot be parsed"));
  EXPECT_EQ(refusal(check_private_key(leaf_.cert_pem, "")), "private key PEM is empty");
  // A bad chain is reported before the key is looked at.
  EXPECT_EQ(refusal(check_private_key("nothing", leaf_.key_pem)),
            "certificate PEM holds no \"-----BEGIN CERTIFICATE-----\" block");
}

TEST_F(CertificatePemTest, MessagesNeverEchoKeyMaterial) {
  // Whatever goes wrong, the key's base64 body never appears in a message.
  const std::string body = testing::secret_part(leaf_.key_pem);
  for (const std::string& key : {ca_.key_pem, leaf_.key_pem + leaf_.key_pem}) {
    const std::string message = refusal(check_private_key(leaf_.cert_pem, key));
    EXPECT_FALSE(contains(message, testing::secret_part(key))) << message;
    EXPECT_FALSE(contains(message, body)) << message;
  }
  const std::string message = refusal(inspect_certificate_chain(leaf_.key_pem));
  EXPECT_FALSE(contains(message, body)) << message;
}

}  // namespace
}  // namespace gw::controlplane
