// Cookie files in the Netscape format curl reads (-b file) and writes (-c file): one cookie a line,
// seven tab-separated fields — domain, include-subdomains, path, secure, expiry (epoch seconds, 0 for a
// session cookie), name, value — with '#HttpOnly_' before the domain of an HttpOnly cookie. The cookies
// live in a tough-cookie CookieJar, which the request takes as its `cookieJar` (redirect hops included).
import { Cookie, CookieJar } from 'tough-cookie';

const HTTP_ONLY_PREFIX = '#HttpOnly_';

/** Parses a cookie file's text into `jar`; lines that are not cookies are skipped, as curl skips them. */
export async function loadCookieFile(jar: CookieJar, text: string, now = Date.now()): Promise<number> {
  let loaded = 0;
  for (const rawLine of text.split(/\r?\n/)) {
    let line = rawLine;
    let httpOnly = false;
    if (line.startsWith(HTTP_ONLY_PREFIX)) {
      httpOnly = true;
      line = line.slice(HTTP_ONLY_PREFIX.length);
    } else if (line.startsWith('#') || line.trim() === '') continue;
    const f = line.split('\t');
    if (f.length < 7) continue;
    const [domainField, tailmatch, path, secure, expiresField, name] = f;
    const value = f.slice(6).join('\t');
    const expiresSec = Number(expiresField);
    if (!Number.isFinite(expiresSec)) continue;
    if (expiresSec !== 0 && expiresSec * 1000 <= now) continue; // expired: curl drops it on load
    const domain = domainField.replace(/^\./, '').toLowerCase();
    if (domain === '' || name === '') continue;
    const cookie = new Cookie({
      key: name,
      value,
      domain,
      path: path || '/',
      secure: secure.toUpperCase() === 'TRUE',
      httpOnly,
      hostOnly: tailmatch.toUpperCase() !== 'TRUE',
      expires: expiresSec === 0 ? 'Infinity' : new Date(expiresSec * 1000),
    });
    await jar.store.putCookie(cookie);
    loaded++;
  }
  return loaded;
}

/** The jar as a Netscape cookie file (session cookies included, with expiry 0; expired ones left out). */
export async function formatCookieFile(jar: CookieJar, now = Date.now()): Promise<string> {
  const lines = [
    '# Netscape HTTP Cookie File',
    '# Written by cycletls-native (the format curl reads and writes). Edit at your own risk.',
    '',
  ];
  for (const c of await jar.store.getAllCookies()) {
    const expiry = c.expiryTime();
    if (expiry !== undefined && expiry <= now) continue;
    const subdomains = c.hostOnly === false;
    const domain = `${c.httpOnly ? HTTP_ONLY_PREFIX : ''}${subdomains ? '.' : ''}${c.domain ?? ''}`;
    const expires = expiry === undefined || !Number.isFinite(expiry) ? 0 : Math.floor(expiry / 1000);
    lines.push(
      [
        domain,
        subdomains ? 'TRUE' : 'FALSE',
        c.path ?? '/',
        c.secure ? 'TRUE' : 'FALSE',
        String(expires),
        c.key,
        c.value,
      ].join('\t'),
    );
  }
  return `${lines.join('\n')}\n`;
}
