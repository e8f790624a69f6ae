// APP-4: which languages each App Store storefront offers, its main language first. Metadata is
// read from the token's storefront in every one of these; the catalog answers in the caller's
// language (Accept-Language) when the storefront has it, else in the storefront's main language.
// Storefronts not listed here are read in English only.

const languages: Record<string, readonly string[]> = {
  us: ["en", "es"],
  ca: ["en", "fr"],
  mx: ["es", "en"],
  br: ["pt", "en"],
  ar: ["es", "en"],
  cl: ["es", "en"],
  co: ["es", "en"],
  gb: ["en"],
  ie: ["en"],
  au: ["en"],
  nz: ["en"],
  in: ["en", "hi"],
  sg: ["en", "zh"],
  za: ["en"],
  se: ["sv", "en"],
  no: ["nb", "en"],
  dk: ["da", "en"],
  fi: ["fi", "sv", "en"],
  is: ["en"],
  nl: ["nl", "en"],
  be: ["nl", "fr", "en"],
  lu: ["fr", "de", "en"],
  de: ["de", "en"],
  at: ["de", "en"],
  ch: ["de", "fr", "it", "en"],
  fr: ["fr", "en"],
  es: ["es", "ca", "en"],
  pt: ["pt", "en"],
  it: ["it", "en"],
  pl: ["pl", "en"],
  cz: ["cs", "en"],
  sk: ["sk", "en"],
  hu: ["hu", "en"],
  ro: ["ro", "en"],
  gr: ["el", "en"],
  tr: ["tr", "en"],
  ee: ["et", "en"],
  lv: ["lv", "en"],
  lt: ["lt", "en"],
  jp: ["ja", "en"],
  kr: ["ko", "en"],
  cn: ["zh", "en"],
  tw: ["zh-hant", "en"],
  hk: ["zh-hant", "en"],
  il: ["he", "en"],
  ae: ["ar", "en"],
  sa: ["ar", "en"],
};

/** The storefront's languages (lower-case tags), main language first. */
export function storefrontLanguages(country: string): readonly string[] {
  return languages[country.trim().toLowerCase()] ?? ["en"];
}

/**
 * The best of `available` for an Accept-Language header (quality order; `sv-SE` matches `sv`), or
 * undefined when the caller asked for none of them.
 */
export function pickLanguage(
  acceptLanguage: string | undefined,
  available: readonly string[],
): string | undefined {
  if (!acceptLanguage || available.length === 0) return undefined;
  const wanted = acceptLanguage
    .split(",")
    .map((part, i) => {
      const [tag, ...params] = part.trim().split(";");
      const q = params.map((p) => /^\s*q=([\d.]+)\s*$/.exec(p)?.[1]).find((v) => v !== undefined);
      return { tag: tag.trim().toLowerCase(), q: q === undefined ? 1 : Number(q), i };
    })
    .filter((w) => w.tag !== "" && w.tag !== "*" && w.q > 0)
    .sort((a, b) => b.q - a.q || a.i - b.i);
  const have = available.map((a) => a.toLowerCase());
  for (const w of wanted) {
    if (have.includes(w.tag)) return available[have.indexOf(w.tag)];
    const base = w.tag.split("-")[0];
    const match = have.findIndex((a) => a === base || a.split("-")[0] === base);
    if (match >= 0) return available[match];
  }
  return undefined;
}
