export const DEVICE_KINDS = ['smoke', 'sos', 'fall', 'gas', 'water', 'motion', 'door', 'hub', 'panel', 'pendant', 'other'] as const;
export type DeviceKind = (typeof DEVICE_KINDS)[number];
export const DEVICE_PROTOCOLS = ['native', 'zigbee2mqtt', 'sia-dc09', 'ctwing'] as const;
export type DeviceProtocol = (typeof DEVICE_PROTOCOLS)[number];
export type DeviceStatus = 'registered' | 'active' | 'decommissioned';

/** A serial is the device's MQTT client id and username, so it must be a single topic level. */
export const SERIAL = /^[A-Za-z0-9._:-]{3,64}$/;

/** How a non-native device is reached: its Zigbee hub and name, its SIA DC-09 account and key, its NB-IoT IMEI. */
export interface DeviceAttributes {
  hubId?: string;
  zigbeeName?: string;
  account?: string;
  aesKey?: string;
  imei?: string;
}

export interface Device {
  id: string;
  serial: string;
  type: DeviceKind;
  model: string | null;
  protocol: DeviceProtocol;
  attributes: DeviceAttributes;
  status: DeviceStatus;
  householdId: string | null;
  registeredAt: Date;
  installedAt: Date | null;
  decommissionedAt: Date | null;
}

/** Why a CONNECT was refused; `unclassified`: the external broker refused more devices in a second than it names. */
export type ConnectRefusal =
  | 'unknown_device' | 'bad_credentials' | 'decommissioned_device' | 'device_not_installed' | 'no_mqtt_credentials' | 'unclassified';

/** Whether a device with valid credentials may be online: only installed (active) devices may. */
export function connectRefusal(device: Device | null): ConnectRefusal | null {
  if (!device) return 'unknown_device';
  if (device.status === 'decommissioned') return 'decommissioned_device';
  if (device.status !== 'active' || !device.householdId) return 'device_not_installed';
  return null;
}

/** The per-device ACL: publish only under `devices/{own id}/...`, subscribe only to `devices/{own id}/commands`. */
export function mayPublish(serial: string, topic: string): boolean {
  return topic.startsWith(`devices/${serial}/`) && topic.length > `devices/${serial}/`.length;
}

export function maySubscribe(serial: string, topicFilter: string): boolean {
  return topicFilter === `devices/${serial}/commands`;
}
