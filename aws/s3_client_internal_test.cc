// The pure pieces of the S3 client: the XML reader, recorded answers (the S3 API
// reference's ListObjectsV2 and error examples), error classification, addressing, the
// PUT headers and their signature's shape, body verification and the 412 resolution.
#include <gtest/gtest.h>

#include <chrono>

#include "aws/s3_client_internal.h"
#include "aws/sigv4.h"

namespace docshift::aws::internal {
namespace {

// ---------------------------------------------------------------- XML

TEST(S3XmlTest, ElementsTextAttributesAndEntities) {
  auto root = ParseXml(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- c -->"
      "<A xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\" x='1>2'>"
      "<B>a &amp; b &lt;&gt;&quot;&apos; &#65;&#x42;&#xe9;</B><C/><B>second</B>"
      "<D><![CDATA[<raw & text>]]></D><!-- inside --><?pi x?></A>\n");
  ASSERT_TRUE(root.ok()) << root.status().ToString();
  EXPECT_EQ(root->name, "A");
  ASSERT_EQ(root->children.size(), 4u);
  EXPECT_EQ(root->ChildText("B"), "a & b <>\"' AB\xC3\xA9");  // the first B
  EXPECT_EQ(root->children[2].text, "second");
  EXPECT_EQ(root->ChildText("C"), "");
  EXPECT_NE(root->Child("C"), nullptr);
  EXPECT_EQ(root->Child("Z"), nullptr);
  EXPECT_EQ(root->ChildText("D"), "<raw & text>");
}

TEST(S3XmlTest, MalformedDocumentsAreCorruption) {
  const char* cases[] = {
      "",                                               // empty
      "just text",                                      // no root
      "<A>",                                            // unclosed
      "<A></B>",                                        // mismatched
      "<A><B></A></B>",                                 // crossed
      "<A>&unknown;</A>",                               // unknown entity
      "<A>&#0;</A>",                                    // NUL reference
      "<A>&#xD800;</A>",                                // surrogate
      "<A>&amp</A>",                                    // unterminated entity
      "<A></A><B></B>",                                 // two roots
      "<A></A>text",                                    // text after the root
      "<!DOCTYPE A [<!ENTITY x \"y\">]><A>&x;</A>",     // DTD refused
      "<A x=1></A>",                                    // unquoted attribute
      "<A x=\"1></A>",                                  // unclosed attribute
      "<A><![CDATA[x</A>",                              // unclosed CDATA
      "<A><!-- x</A>",                                  // unclosed comment
      "<A",                                             // unclosed start tag
  };
  for (const char* c : cases) {
    auto r = ParseXml(c);
    EXPECT_TRUE(r.status().IsCorruption()) << "'" << c << "': " << r.status().ToString();
  }
}

TEST(S3XmlTest, DepthIsBounded) {
  std::string deep;
  for (int i = 0; i < 40; ++i) deep += "<a>";
  for (int i = 0; i < 40; ++i) deep += "</a>";
  EXPECT_TRUE(ParseXml(deep).status().IsCorruption());
  std::string ok;
  for (int i = 0; i < 20; ++i) ok += "<a>";
  for (int i = 0; i < 20; ++i) ok += "</a>";
  EXPECT_TRUE(ParseXml(ok).ok());
}

// ---------------------------------------------------------------- ListObjectsV2

// The S3 API reference, ListObjectsV2, "Example 1: Listing keys" (abridged to two keys).
constexpr char kListLastPage[] = R"(<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
    <Name>bucket</Name>
    <Prefix/>
    <KeyCount>205</KeyCount>
    <MaxKeys>1000</MaxKeys>
    <IsTruncated>false</IsTruncated>
    <Contents>
        <Key>my-image.jpg</Key>
        <LastModified>2009-10-12T17:50:30.000Z</LastModified>
        <ETag>&quot;fba9dede5f27731c9771645a39863328&quot;</ETag>
        <Size>434234</Size>
        <StorageClass>STANDARD</StorageClass>
    </Contents>
    <Contents>
        <Key>my-third-image.jpg</Key>
        <LastModified>2009-10-12T17:50:30.000Z</LastModified>
        <ETag>"1b2cf535f27731c974343645a3985328"</ETag>
        <Size>64994</Size>
        <StorageClass>STANDARD_IA</StorageClass>
    </Contents>
</ListBucketResult>)";

// The S3 API reference, "Example 3: Using a continuation token" (first page, abridged).
constexpr char kListTruncated[] = R"(<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>bucket</Name>
  <Prefix></Prefix>
  <NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>
  <KeyCount>1000</KeyCount>
  <MaxKeys>1000</MaxKeys>
  <IsTruncated>true</IsTruncated>
  <Contents>
    <Key>happyface.jpg</Key>
    <LastModified>2014-11-21T19:40:05.000Z</LastModified>
    <ETag>"70ee1738b6b21e2c8a43f3a5ab0eee71"</ETag>
    <Size>11</Size>
    <StorageClass>STANDARD</StorageClass>
  </Contents>
</ListBucketResult>)";

TEST(S3ListTest, LastPage) {
  auto page = ParseListObjectsV2(kListLastPage);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_FALSE(page->truncated);
  EXPECT_EQ(page->next_continuation_token, "");
  ASSERT_EQ(page->objects.size(), 2u);
  EXPECT_EQ(page->objects[0].key, "my-image.jpg");
  EXPECT_EQ(page->objects[0].size, 434234);
  EXPECT_EQ(page->objects[0].etag, "\"fba9dede5f27731c9771645a39863328\"");
  EXPECT_EQ(page->objects[0].last_modified, "2009-10-12T17:50:30.000Z");
  EXPECT_EQ(page->objects[1].key, "my-third-image.jpg");
  EXPECT_EQ(page->objects[1].size, 64994);
}

TEST(S3ListTest, TruncatedPageWithContinuationToken) {
  auto page = ParseListObjectsV2(kListTruncated);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_TRUE(page->truncated);
  EXPECT_EQ(page->next_continuation_token, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
  ASSERT_EQ(page->objects.size(), 1u);
  EXPECT_EQ(page->objects[0].key, "happyface.jpg");
}

TEST(S3ListTest, EmptyBucketAndEncodedKeys) {
  auto empty = ParseListObjectsV2(
      "<ListBucketResult><Name>b</Name><KeyCount>0</KeyCount><IsTruncated>false</IsTruncated></ListBucketResult>");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->objects.empty());
  auto odd = ParseListObjectsV2(
      "<ListBucketResult><Contents><Key>a&amp;b &lt;c&gt; &#x1F600;&#13;</Key><Size>0</Size></Contents>"
      "</ListBucketResult>");
  ASSERT_TRUE(odd.ok());
  EXPECT_EQ(odd->objects[0].key, "a&b <c> \xF0\x9F\x98\x80\r");
}

TEST(S3ListTest, BadAnswersAreCorruption) {
  const char* cases[] = {
      "<Error><Code>x</Code></Error>",                                                  // other root
      "<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>",       // no Key
      "<ListBucketResult><Contents><Key>k</Key><Size>x</Size></Contents></ListBucketResult>",
      "<ListBucketResult><Contents><Key>k</Key><Size>-1</Size></Contents></ListBucketResult>",
      "<ListBucketResult><IsTruncated>maybe</IsTruncated></ListBucketResult>",
      "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>",            // no token
      "<ListBucketResult><Contents><Key>k</Key></ListBucketResult>",                     // malformed
  };
  for (const char* c : cases) {
    EXPECT_TRUE(ParseListObjectsV2(c).status().IsCorruption()) << c;
  }
}

TEST(S3ListTest, QueryIsSortedAndEncoded) {
  ListOptions o;
  o.prefix = "spool/log 1/";
  o.start_after = "spool/log 1/0005";
  o.page_size = 2;
  EXPECT_EQ(ListQuery(o, ""),
            "list-type=2&max-keys=2&prefix=spool%2Flog%201%2F&start-after=spool%2Flog%201%2F0005");
  EXPECT_EQ(ListQuery(ListOptions{}, "1ue/X+Y="), "continuation-token=1ue%2FX%2BY%3D&list-type=2&max-keys=1000");
}

// ---------------------------------------------------------------- errors

TEST(S3ErrorTest, RecordedErrorBodies) {
  // The S3 API reference, "Error responses".
  auto e = ParseS3Error(R"(<?xml version="1.0" encoding="UTF-8"?>
<Error>
  <Code>NoSuchKey</Code>
  <Message>The resource you requested does not exist</Message>
  <Resource>/mybucket/myfoto.jpg</Resource>
  <RequestId>4442587FB7D0A2F9</RequestId>
</Error>)");
  EXPECT_EQ(e.code, "NoSuchKey");
  EXPECT_EQ(e.message, "The resource you requested does not exist");
  // A conditional write that lost (S3's 412).
  e = ParseS3Error(
      "<Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not "
      "hold</Message><Condition>If-None-Match</Condition><RequestId>R</RequestId><HostId>H</HostId></Error>");
  EXPECT_EQ(e.code, "PreconditionFailed");
  EXPECT_EQ(e.message, "At least one of the pre-conditions you specified did not hold");
  // A bad signature echoes the string to sign, never read beyond Code and Message.
  e = ParseS3Error(
      "<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match the "
      "signature you provided. Check your key and signing method.</Message><AWSAccessKeyId>AKID</AWSAccessKeyId>"
      "<StringToSign>AWS4-HMAC-SHA256\n...</StringToSign></Error>");
  EXPECT_EQ(e.code, "SignatureDoesNotMatch");
  // Not XML (a proxy's HTML page), or empty (HEAD): no code, no message.
  e = ParseS3Error("<html><body>Bad Gateway</body></html>");
  EXPECT_EQ(e.code, "");
  e = ParseS3Error("");
  EXPECT_EQ(e.code, "");
  EXPECT_EQ(e.message, "");
}

TEST(S3ErrorTest, Classification) {
  EXPECT_EQ(ClassifyS3Error(412, "PreconditionFailed"), S3ErrorKind::kPreconditionFailed);
  EXPECT_EQ(ClassifyS3Error(412, ""), S3ErrorKind::kPreconditionFailed);  // HEAD-style, no body
  EXPECT_EQ(ClassifyS3Error(404, "NoSuchKey"), S3ErrorKind::kNotFound);
  EXPECT_EQ(ClassifyS3Error(404, "NoSuchBucket"), S3ErrorKind::kNotFound);
  EXPECT_EQ(ClassifyS3Error(404, ""), S3ErrorKind::kNotFound);
  EXPECT_EQ(ClassifyS3Error(403, "AccessDenied"), S3ErrorKind::kAuth);
  EXPECT_EQ(ClassifyS3Error(403, "SignatureDoesNotMatch"), S3ErrorKind::kAuth);
  EXPECT_EQ(ClassifyS3Error(403, "RequestTimeTooSkewed"), S3ErrorKind::kAuth);
  EXPECT_EQ(ClassifyS3Error(403, ""), S3ErrorKind::kAuth);
  EXPECT_EQ(ClassifyS3Error(503, "SlowDown"), S3ErrorKind::kThrottled);
  EXPECT_EQ(ClassifyS3Error(429, ""), S3ErrorKind::kThrottled);
  EXPECT_EQ(ClassifyS3Error(503, "ServiceUnavailable"), S3ErrorKind::kServer);
  EXPECT_EQ(ClassifyS3Error(500, "InternalError"), S3ErrorKind::kServer);
  EXPECT_EQ(ClassifyS3Error(409, "ConditionalRequestConflict"), S3ErrorKind::kConflict);
  EXPECT_EQ(ClassifyS3Error(409, "OperationAborted"), S3ErrorKind::kConflict);
  EXPECT_EQ(ClassifyS3Error(409, "BucketNotEmpty"), S3ErrorKind::kValidation);
  EXPECT_EQ(ClassifyS3Error(400, "RequestTimeout"), S3ErrorKind::kNetwork);
  EXPECT_EQ(ClassifyS3Error(400, "BadDigest"), S3ErrorKind::kCorruption);
  EXPECT_EQ(ClassifyS3Error(400, "InvalidArgument"), S3ErrorKind::kValidation);
  EXPECT_EQ(ClassifyS3Error(416, "InvalidRange"), S3ErrorKind::kValidation);
  for (auto k : {S3ErrorKind::kNetwork, S3ErrorKind::kThrottled, S3ErrorKind::kServer, S3ErrorKind::kConflict}) {
    EXPECT_TRUE(IsRetryable(k)) << S3ErrorKindName(k);
  }
  for (auto k : {S3ErrorKind::kPreconditionFailed, S3ErrorKind::kNotFound, S3ErrorKind::kAuth,
                 S3ErrorKind::kValidation, S3ErrorKind::kCorruption, S3ErrorKind::kBadResponse}) {
    EXPECT_FALSE(IsRetryable(k)) << S3ErrorKindName(k);
  }
  EXPECT_TRUE(S3StatusForKind(S3ErrorKind::kPreconditionFailed, "m").IsFailedPrecondition());
  EXPECT_TRUE(S3StatusForKind(S3ErrorKind::kNotFound, "m").IsNotFound());
  EXPECT_TRUE(S3StatusForKind(S3ErrorKind::kCorruption, "m").IsCorruption());
  EXPECT_TRUE(S3StatusForKind(S3ErrorKind::kThrottled, "m").IsUnavailable());
  EXPECT_TRUE(S3StatusForKind(S3ErrorKind::kAuth, "m").IsInvalidArgument());
}

// ---------------------------------------------------------------- addressing

TEST(S3LocateTest, VirtualHostByDefaultPathStyleWithAnEndpoint) {
  auto v = LocateObject("", "eu-west-1", "my-bucket", "spool/log/00000000000000000001");
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->endpoint.BaseUrl(), "https://my-bucket.s3.eu-west-1.amazonaws.com");
  EXPECT_EQ(v->path, "/spool/log/00000000000000000001");

  auto cn = LocateObject("", "cn-north-1", "b-1", "k");
  ASSERT_TRUE(cn.ok());
  EXPECT_EQ(cn->endpoint.HostHeader(), "b-1.s3.cn-north-1.amazonaws.com.cn");

  // A dot in the bucket: the wildcard certificate would not match; path style.
  auto dotted = LocateObject("", "us-east-1", "my.bucket", "a b");
  ASSERT_TRUE(dotted.ok());
  EXPECT_EQ(dotted->endpoint.BaseUrl(), "https://s3.us-east-1.amazonaws.com");
  EXPECT_EQ(dotted->path, "/my.bucket/a%20b");

  auto p = LocateObject("http://127.0.0.1:27107", "us-east-1", "spool", "dir/k+=~é");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->endpoint.HostHeader(), "127.0.0.1:27107");
  EXPECT_EQ(p->path, "/spool/dir/k%2B%3D~%C3%A9");

  auto bucket_only = LocateObject("http://127.0.0.1:27107/", "us-east-1", "spool", "");
  ASSERT_TRUE(bucket_only.ok());
  EXPECT_EQ(bucket_only->path, "/spool");
  auto bucket_only_v = LocateObject("", "us-east-1", "spool", "");
  ASSERT_TRUE(bucket_only_v.ok());
  EXPECT_EQ(bucket_only_v->path, "/");
}

TEST(S3LocateTest, RefusesWhatS3OrLibcurlWouldNotTakeAsIs) {
  EXPECT_TRUE(LocateObject("", "us-east-1", "ab", "k").status().IsInvalidArgument());
  EXPECT_TRUE(LocateObject("", "us-east-1", "Upper", "k").status().IsInvalidArgument());
  EXPECT_TRUE(LocateObject("", "us-east-1", "-bucket", "k").status().IsInvalidArgument());
  EXPECT_TRUE(LocateObject("", "us-east-1", "bucket", std::string(1025, 'k')).status().IsInvalidArgument());
  EXPECT_TRUE(LocateObject("", "us-east-1", "bucket", "a/./b").status().IsInvalidArgument());
  EXPECT_TRUE(LocateObject("", "us-east-1", "bucket", "../b").status().IsInvalidArgument());
  EXPECT_TRUE(LocateObject("", "", "bucket", "k").status().IsInvalidArgument());
  EXPECT_TRUE(LocateObject("ftp://x", "us-east-1", "bucket", "k").status().IsInvalidArgument());
  EXPECT_TRUE(LocateObject("http://x/prefix", "us-east-1", "bucket", "k").status().IsInvalidArgument());
}

// ---------------------------------------------------------------- PUT headers, signing

std::string HeaderValue(const Headers& h, std::string_view name) {
  for (const auto& [k, v] : h) {
    if (k == name) return v;
  }
  return "<none>";
}

TEST(S3PutTest, HeadersCarryMd5WriterAndCondition) {
  PutOptions o;
  o.condition = PutOptions::Condition::kIfNoneMatch;
  o.writer_id = "shipper-7f3a/attempt-2";
  o.metadata["docshift-segment"] = "00000000000000004096";
  auto h = PutHeaders("hello", o);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  // MD5("hello") = 5d41402abc4b2a76b9719d911017c592.
  EXPECT_EQ(HeaderValue(*h, "Content-MD5"), "XUFAKrxLKna5cZ2REBfFkg==");
  EXPECT_EQ(HeaderValue(*h, "x-amz-meta-docshift-md5"), "5d41402abc4b2a76b9719d911017c592");
  EXPECT_EQ(HeaderValue(*h, "x-amz-meta-docshift-writer"), "shipper-7f3a/attempt-2");
  EXPECT_EQ(HeaderValue(*h, "x-amz-meta-docshift-segment"), "00000000000000004096");
  EXPECT_EQ(HeaderValue(*h, "If-None-Match"), "*");
  EXPECT_EQ(HeaderValue(*h, "If-Match"), "<none>");

  o.condition = PutOptions::Condition::kIfMatch;
  o.if_match_etag = "\"5d41402abc4b2a76b9719d911017c592\"";
  h = PutHeaders("", o);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(HeaderValue(*h, "If-Match"), "\"5d41402abc4b2a76b9719d911017c592\"");
  EXPECT_EQ(HeaderValue(*h, "If-None-Match"), "<none>");
  EXPECT_EQ(HeaderValue(*h, "Content-MD5"), "1B2M2Y8AsgTpgAmY7PhCfg==");  // MD5 of nothing
}

TEST(S3PutTest, RefusesBadMetadata) {
  PutOptions o;
  o.metadata["Upper"] = "x";
  EXPECT_TRUE(PutHeaders("", o).status().IsInvalidArgument());
  o.metadata = {{"docshift-md5", "0"}};
  EXPECT_TRUE(PutHeaders("", o).status().IsInvalidArgument());
  o.metadata = {{"ok", "line\r\nInjected: 1"}};
  EXPECT_TRUE(PutHeaders("", o).status().IsInvalidArgument());
  o.metadata = {};
  o.writer_id = "w\n";
  EXPECT_TRUE(PutHeaders("", o).status().IsInvalidArgument());
  o.writer_id = "w";
  o.condition = PutOptions::Condition::kIfMatch;  // no ETag
  EXPECT_TRUE(PutHeaders("", o).status().IsInvalidArgument());
}

TEST(S3PutTest, SignatureShape) {
  PutOptions o;
  o.condition = PutOptions::Condition::kIfNoneMatch;
  o.writer_id = "w1";
  auto loc = LocateObject("http://127.0.0.1:27107", "us-east-1", "spool", "log/0001 x");
  ASSERT_TRUE(loc.ok());
  auto h = PutHeaders("body", o);
  ASSERT_TRUE(h.ok());
  Headers headers = {{"Host", loc->endpoint.HostHeader()}};
  headers.insert(headers.end(), h->begin(), h->end());
  HttpRequest req{"PUT", loc->path, "", headers, "body"};
  Credentials c;
  c.access_key_id = "AKIDEXAMPLE";
  c.secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
  const auto t = std::chrono::system_clock::time_point(std::chrono::seconds(1440938160));  // 20150830T123600Z
  auto s = SignRequest(req, c, SigningOptions::ForS3("us-east-1", t, Payload::kHashBody));
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  // Path single-encoded, every docshift header signed, the body's SHA-256 as payload.
  EXPECT_TRUE(s->canonical_request.starts_with("PUT\n/spool/log/0001%20x\n\n")) << s->canonical_request;
  EXPECT_NE(s->canonical_request.find("\ncontent-md5;content-type;host;if-none-match;x-amz-content-sha256;"
                                      "x-amz-date;x-amz-meta-docshift-md5;x-amz-meta-docshift-writer\n" +
                                      HexSha256("body")),
            std::string::npos)
      << s->canonical_request;
  EXPECT_NE(s->canonical_request.find("\nif-none-match:*\n"), std::string::npos);
  EXPECT_EQ(s->headers_to_add[1].first, "x-amz-content-sha256");
  EXPECT_EQ(s->headers_to_add[1].second, HexSha256("body"));
  EXPECT_TRUE(s->headers_to_add.back().second.starts_with(
      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/s3/aws4_request, "))
      << s->headers_to_add.back().second;
  for (const auto& [k, v] : s->headers_to_add) EXPECT_EQ(v.find(c.secret_access_key), std::string::npos);
}

TEST(S3PutTest, ListRequestSignsTheCanonicalQuery) {
  auto loc = LocateObject("", "us-east-1", "spool", "");
  ASSERT_TRUE(loc.ok());
  ListOptions o;
  o.prefix = "log/";
  HttpRequest req{"GET", loc->path, ListQuery(o, "tok="), {{"Host", loc->endpoint.HostHeader()}}, ""};
  Credentials c{"AKIDEXAMPLE", "secret", "", "test"};
  auto s = SignRequest(req, c, SigningOptions::ForS3("us-east-1", std::chrono::system_clock::now(), Payload::kHashBody));
  ASSERT_TRUE(s.ok());
  EXPECT_NE(s->canonical_request.find("GET\n/\ncontinuation-token=tok%3D&list-type=2&max-keys=1000&prefix=log%2F\n"
                                      "host:spool.s3.us-east-1.amazonaws.com\n"),
            std::string::npos)
      << s->canonical_request;
}

// ---------------------------------------------------------------- GET verification

HttpResponse Answer(Headers h) {
  HttpResponse r;
  r.status = 200;
  r.headers = std::move(h);
  return r;
}

TEST(S3GetTest, InfoFromHeaders) {
  auto info = ObjectInfoFromHeaders(Answer({{"ETag", "\"abc\""},
                                            {"Content-Length", "5"},
                                            {"Last-Modified", "Mon, 07 Dec 2026 16:00:00 GMT"},
                                            {"X-Amz-Meta-Docshift-Writer", "w1"},
                                            {"X-Amz-Meta-Docshift-Md5", "5D41402ABC4B2A76B9719D911017C592"},
                                            {"x-amz-meta-other", " v "}}));
  EXPECT_EQ(info.etag, "\"abc\"");
  EXPECT_EQ(info.size, 5);
  EXPECT_EQ(info.writer_id, "w1");
  EXPECT_EQ(info.md5_hex, "5d41402abc4b2a76b9719d911017c592");
  EXPECT_EQ(info.metadata.at("other"), "v");
  EXPECT_EQ(info.metadata.size(), 3u);
}

TEST(S3GetTest, VerifyBodyCases) {
  S3ObjectInfo info;
  info.size = 5;
  info.md5_hex = HexMd5("hello");
  EXPECT_TRUE(VerifyBody(info, "hello", true).ok());
  // A flipped byte, a short body, a missing or malformed checksum.
  EXPECT_TRUE(VerifyBody(info, "hellp", true).IsCorruption());
  EXPECT_TRUE(VerifyBody(info, "hell", true).IsCorruption());
  info.size = -1;
  EXPECT_TRUE(VerifyBody(info, "hellp", true).IsCorruption());
  info.md5_hex = "";
  EXPECT_TRUE(VerifyBody(info, "hello", true).IsCorruption());
  EXPECT_TRUE(VerifyBody(info, "hello", false).ok());
  info.md5_hex = "xyz";
  EXPECT_TRUE(VerifyBody(info, "hello", false).IsCorruption());
  // The ETag is never consulted: a matching ETag does not save a bad body.
  info.md5_hex = HexMd5("hello");
  info.etag = "\"" + HexMd5("hellp") + "\"";
  EXPECT_TRUE(VerifyBody(info, "hellp", true).IsCorruption());
}

// ---------------------------------------------------------------- 412 resolution

TEST(S3ResolveTest, OursTheirsGone) {
  const std::string md5 = HexMd5("segment bytes");
  S3ObjectInfo mine;
  mine.writer_id = "w-1";
  mine.md5_hex = md5;
  mine.size = 13;
  EXPECT_EQ(ResolvePreconditionFailed(mine, "w-1", md5, 13), PreconditionVerdict::kOurs);
  // Size unknown (a server without Content-Length on HEAD): writer and MD5 decide.
  S3ObjectInfo no_size = mine;
  no_size.size = -1;
  EXPECT_EQ(ResolvePreconditionFailed(no_size, "w-1", md5, 13), PreconditionVerdict::kOurs);
  // Another writer with the same bytes: still a lost race (two shippers never both win).
  S3ObjectInfo other = mine;
  other.writer_id = "w-2";
  EXPECT_EQ(ResolvePreconditionFailed(other, "w-1", md5, 13), PreconditionVerdict::kTheirs);
  // Our id but other bytes (a reused id): not ours.
  S3ObjectInfo changed = mine;
  changed.md5_hex = HexMd5("other bytes!!");
  EXPECT_EQ(ResolvePreconditionFailed(changed, "w-1", md5, 13), PreconditionVerdict::kTheirs);
  S3ObjectInfo longer = mine;
  longer.size = 14;
  EXPECT_EQ(ResolvePreconditionFailed(longer, "w-1", md5, 13), PreconditionVerdict::kTheirs);
  // No writer id on the object (written by something else), or none of ours to compare.
  S3ObjectInfo anonymous = mine;
  anonymous.writer_id = "";
  EXPECT_EQ(ResolvePreconditionFailed(anonymous, "w-1", md5, 13), PreconditionVerdict::kTheirs);
  EXPECT_EQ(ResolvePreconditionFailed(anonymous, "", md5, 13), PreconditionVerdict::kTheirs);
  EXPECT_EQ(ResolvePreconditionFailed(std::nullopt, "w-1", md5, 13), PreconditionVerdict::kGone);
}

TEST(S3OptionsTest, FromTheAwsConventions) {
  auto o = S3ClientOptionsFromEnv(MapEnv({{"AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"},
                                          {"AWS_SECRET_ACCESS_KEY", "secret"},
                                          {"AWS_REGION", "eu-west-1"},
                                          {"AWS_ENDPOINT_URL", "http://127.0.0.1:1"},
                                          {"AWS_ENDPOINT_URL_S3", "http://127.0.0.1:27107"}}),
                                  "");
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->region, "eu-west-1");
  EXPECT_EQ(o->endpoint, "http://127.0.0.1:27107");  // the service's own variable first
  EXPECT_EQ(o->credentials.access_key_id, "AKIDEXAMPLE");
  auto d = S3ClientOptionsFromEnv(
      MapEnv({{"AWS_ACCESS_KEY_ID", "A"}, {"AWS_SECRET_ACCESS_KEY", "s"}, {"AWS_DEFAULT_REGION", "us-east-2"}}), "");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->endpoint, "");  // the AWS default: virtual-host style
  EXPECT_TRUE(S3ClientOptionsFromEnv(MapEnv({{"AWS_REGION", "us-east-1"}}), "").status().IsInvalidArgument());
}

}  // namespace
}  // namespace docshift::aws::internal
