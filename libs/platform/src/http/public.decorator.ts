import { SetMetadata } from '@nestjs/common';

export const PUBLIC_KEY = 'linan:public';
/** No token needed (login, health, metrics, the console page). */
export const Public = () => SetMetadata(PUBLIC_KEY, true);
