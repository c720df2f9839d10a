// Tests of AES-256-GCM sealing and the key file.
#include "storage/secret_box.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "storage/test_temp_dir.h"

namespace gw::storage {
namespace {

TEST(SecretBoxTest, KeyFileIsCreatedPrivateAndReused) {
  TestTempDir dir;
  const auto path = SecretBox::key_path_for(dir.file("gw.db"));
  EXPECT_EQ(path.filename(), "gw.db.key");
  SecretBox first = SecretBox::open_key_file(path);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(std::filesystem::file_size(path), 2 * SecretBox::kKeySize + 1);

  SecretBox second = SecretBox::open_key_file(path);
  auto sealed = first.seal("s3cret");
  ASSERT_TRUE(sealed);
  auto opened = second.open(sealed.value());
  ASSERT_TRUE(opened) << opened.error().message;
  EXPECT_EQ(opened.value(), "s3cret");
}

TEST(SecretBoxTest, SealHidesPlaintextAndUsesFreshNonces) {
  TestTempDir dir;
  SecretBox box = SecretBox::open_key_file(dir.file("k"));
  auto a = box.seal("correct horse battery staple");
  auto b = box.seal("correct horse battery staple");
  ASSERT_TRUE(a && b);
  EXPECT_NE(a.value(), b.value());
  EXPECT_EQ(a.value().find("horse"), std::string::npos);
  EXPECT_EQ(a.value().size(), 1 + SecretBox::kNonceSize + 28 + SecretBox::kTagSize);
  EXPECT_EQ(box.open(a.value()).value(), "correct horse battery staple");
  EXPECT_EQ(box.open(box.seal("").value()).value(), "");
}

TEST(SecretBoxTest, TamperedTruncatedOrForeignValuesAreCorrupt) {
  TestTempDir dir;
  SecretBox box = SecretBox::open_key_file(dir.file("k1"));
  SecretBox other = SecretBox::open_key_file(dir.file("k2"));
  std::string sealed = box.seal("password").value();

  for (std::size_t i = 0; i < sealed.size(); ++i) {
    std::string altered = sealed;
    altered[i] = static_cast<char>(altered[i] ^ 0x01);
    auto opened = box.open(altered);
    ASSERT_FALSE(opened) << "flipped octet " << i;
    EXPECT_EQ(opened.error().code, Errc::kCorrupt);
  }
  EXPECT_EQ(box.open(sealed.substr(0, 20)).error().code, Errc::kCorrupt);
  EXPECT_EQ(box.open("").error().code, Errc::kCorrupt);
  EXPECT_EQ(other.open(sealed).error().code, Errc::kCorrupt);
}

TEST(SecretBoxTest, MalformedKeyFileIsRefused) {
  TestTempDir dir;
  {
    std::ofstream out(dir.file("short"));
    out << "abcd\n";
  }
  EXPECT_THROW(SecretBox::open_key_file(dir.file("short")), std::runtime_error);
  {
    std::ofstream out(dir.file("nonhex"));
    out << std::string(64, 'z') << "\n";
  }
  EXPECT_THROW(SecretBox::open_key_file(dir.file("nonhex")), std::runtime_error);
  EXPECT_THROW(SecretBox::open_key_file(dir.file("no-dir") / "k"), std::runtime_error);
}

}  // namespace
}  // namespace gw::storage
