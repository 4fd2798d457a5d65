import { brokerAddress } from './broker-url';

describe(brokerAddress.name, () => {
  it('takes the service account out of MQTT_URL and hides the password in what it shows', () => {
    expect(brokerAddress('mqtt://linan:s3cret@mosquitto:1883')).toEqual({
      url: 'mqtt://mosquitto:1883', username: 'linan', password: 's3cret', display: 'mqtt://linan:***@mosquitto:1883',
    });
  });

  it('decodes a percent-encoded password that holds : or @', () => {
    expect(brokerAddress('mqtts://linan:p%40ss%3Aword@broker.example:8883')).toMatchObject({
      url: 'mqtts://broker.example:8883', username: 'linan', password: 'p@ss:word',
    });
  });

  it('passes a URL without credentials through', () => {
    expect(brokerAddress('mqtt://127.0.0.1:1883')).toEqual({ url: 'mqtt://127.0.0.1:1883', display: 'mqtt://127.0.0.1:1883' });
  });
});
