import { describe, expect, it } from 'vitest';
import { proxySettings } from '../../src/io/platform-fetch.js';

describe('proxySettings (read once from the environment)', () => {
  it('is undefined without HTTP_PROXY or HTTPS_PROXY, whatever NO_PROXY says: requests go straight out', () => {
    expect(proxySettings({})).toBeUndefined();
    expect(proxySettings({ NO_PROXY: '127.0.0.1', HTTP_PROXY: '', https_proxy: '' })).toBeUndefined();
  });

  it('takes either case, the lower-case name first', () => {
    expect(proxySettings({ HTTPS_PROXY: 'http://upper:8080', https_proxy: 'http://lower:8080' })).toEqual({ httpsProxy: 'http://lower:8080', noProxy: '' });
    expect(proxySettings({ HTTP_PROXY: 'http://upper:3128' })).toEqual({ httpProxy: 'http://upper:3128', noProxy: '' });
  });

  it('keeps NO_PROXY beside a proxy, so the hosts it names go direct', () => {
    expect(proxySettings({ HTTPS_PROXY: 'http://p:1', NO_PROXY: 'localhost,127.0.0.1' })).toEqual({ httpsProxy: 'http://p:1', noProxy: 'localhost,127.0.0.1' });
    expect(proxySettings({ http_proxy: 'http://p:1', no_proxy: '*', NO_PROXY: 'ignored' })).toEqual({ httpProxy: 'http://p:1', noProxy: '*' });
  });
});
