// What a sandbox's processes need to use the egress proxy: the proxy variables that curl, git,
// pip, npm and Node's fetch read (with the session's credentials), loopback left direct (the model
// gateway is reached there), and the CA variables that make them trust Hangar's CA for the hosts
// whose TLS it intercepts, with the system's CAs for the rest. Pure.
import { PROXY_USER } from './egress-proxy.js';

export interface EgressEnvironmentSettings {
  /** Loopback port inside the sandbox bridged to the proxy's socket. */
  port: number;
  token: string;
  /** Path, inside the sandbox, of a bundle of the system's CAs and Hangar's. */
  caBundlePath?: string;
  /** Path, inside the sandbox, of Hangar's CA certificate alone (Node adds it to its own list). */
  caCertPath?: string;
  /** Secret name -> placeholder. */
  secretPlaceholders?: Record<string, string>;
}

export function egressEnvironment(settings: EgressEnvironmentSettings): Record<string, string> {
  const proxy = `http://${PROXY_USER}:${settings.token}@127.0.0.1:${settings.port}`;
  const direct = '127.0.0.1,localhost,::1';
  const env: Record<string, string> = {
    HTTP_PROXY: proxy,
    HTTPS_PROXY: proxy,
    http_proxy: proxy,
    https_proxy: proxy,
    NO_PROXY: direct,
    no_proxy: direct,
    npm_config_proxy: proxy,
    npm_config_https_proxy: proxy,
    npm_config_noproxy: direct,
    // Node 20's fetch ignores HTTP_PROXY; Node 24+ reads it with this set.
    NODE_USE_ENV_PROXY: '1',
    ...settings.secretPlaceholders,
  };
  if (settings.caBundlePath !== undefined) {
    for (const name of ['SSL_CERT_FILE', 'REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE', 'GIT_SSL_CAINFO', 'PIP_CERT', 'npm_config_cafile'])
      env[name] = settings.caBundlePath;
  }
  if (settings.caCertPath !== undefined) env.NODE_EXTRA_CA_CERTS = settings.caCertPath;
  return env;
}
