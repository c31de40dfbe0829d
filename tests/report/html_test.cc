#include "report/html.h"

#include <doctest/doctest.h>

#include "tests/report/fixture.h"
#include "tests/support/temp_dir.h"

namespace metajoule::report {
namespace {

TEST_SUITE("report/html") {
  TEST_CASE("Base64 matches the RFC 4648 test vectors") {
    CHECK(Base64("") == "");
    CHECK(Base64("f") == "Zg==");
    CHECK(Base64("fo") == "Zm8=");
    CHECK(Base64("foo") == "Zm9v");
    CHECK(Base64("foob") == "Zm9vYg==");
    CHECK(Base64("fooba") == "Zm9vYmE=");
    CHECK(Base64("foobar") == "Zm9vYmFy");
    CHECK(Base64(std::string("\xff\x00\x80", 3)) == "/wCA");
  }

  TEST_CASE("HtmlEscape escapes markup characters") {
    CHECK(HtmlEscape("a<b & \"c\" 'd'>") == "a&lt;b &amp; &quot;c&quot; &#39;d&#39;&gt;");
  }

  TEST_CASE("InlineSvg drops the prolog and prefixes ids and their references") {
    const std::string svg =
        "<?xml version=\"1.0\"?>\n<!DOCTYPE svg>\n<svg viewBox=\"0 0 1 1\">"
        "<defs><path id=\"gpPt0\" d=\"M0\"/><clipPath id=\"c1\"/></defs>"
        "<use xlink:href=\"#gpPt0\"/><g clip-path=\"url(#c1)\"/></svg>";
    const std::string inlined = InlineSvg(svg, "f3-");
    CHECK(inlined.rfind("<svg", 0) == 0);
    CHECK(inlined.find("<?xml") == std::string::npos);
    CHECK(inlined.find("id=\"f3-gpPt0\"") != std::string::npos);
    CHECK(inlined.find("href=\"#f3-gpPt0\"") != std::string::npos);
    CHECK(inlined.find("url(#f3-c1)") != std::string::npos);
    CHECK(inlined.find("\"#gpPt0\"") == std::string::npos);
  }

  TEST_CASE("the Markdown page links every drawn figure and holds the tables") {
    metajoule::test::TempDir dir;
    test::WriteFixtureLedger(dir.path());
    const Report report = Analyse(ReadSource(dir.path()), {test::kTarget, "--target"});
    const std::vector<FigureInfo> figures = {
        {"returns_energy", "Return against cumulative energy", "caption", "source", true},
        {"lifecycle", "Lifecycle", "Left out: why", "source", false}};
    const std::string md = RenderMarkdown(report, figures);
    CHECK(md.find("![Return against cumulative energy](figures/returns_energy.png)") !=
          std::string::npos);
    CHECK(md.find("Left out: why") != std::string::npos);
    CHECK(md.find("Target return: -15 (from --target)") != std::string::npos);
    CHECK(md.find("| maml | 2 | yes | 2 |") != std::string::npos);
    CHECK(md.find("## Lifecycle and break-even") != std::string::npos);
    CHECK(md.find("| maml | 132 | 17 | 30 | 10.15 | 11 |") != std::string::npos);
  }

  TEST_CASE("the HTML page needs the figure files it embeds") {
    metajoule::test::TempDir dir;
    test::WriteFixtureLedger(dir.path());
    const Report report = Analyse(ReadSource(dir.path()), {test::kTarget, "test"});
    const std::vector<FigureInfo> figures = {{"carbon", "Carbon", "c", "s", true}};
    CHECK_THROWS_WITH_AS(RenderHtml(report, figures, dir.path()), doctest::Contains("carbon.svg"),
                         std::runtime_error);
  }
}

}  // namespace
}  // namespace metajoule::report
