/** Addresses this process serves besides HTTP (the MQTT broker, later receivers), for the start-up banner. */
export class Endpoints {
  private readonly list: { label: string; url: string }[] = [];

  add(label: string, url: string): void {
    this.list.push({ label, url });
  }

  all(): readonly { label: string; url: string }[] {
    return this.list;
  }
}
