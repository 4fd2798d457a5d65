/** MQTT_URL split for mqtt.js: the address, and the service account it may carry as mqtt://user:pass@host:port. */
export interface BrokerAddress {
  /** The URL without credentials: what mqtt.js connects to. */
  url: string;
  username?: string;
  password?: string;
  /** For logs and the start-up banner: the password replaced by ***. */
  display: string;
}

export function brokerAddress(raw: string): BrokerAddress {
  const u = new URL(raw);
  // percent-encoded in the URL so that a password may hold ':' or '@'
  const username = u.username ? decodeURIComponent(u.username) : undefined;
  const password = u.password ? decodeURIComponent(u.password) : undefined;
  u.username = '';
  u.password = '';
  const url = u.toString().replace(/\/$/, '');
  const display = username ? url.replace('://', `://${encodeURIComponent(username)}${password ? ':***' : ''}@`) : url;
  return { url, username, password, display };
}
