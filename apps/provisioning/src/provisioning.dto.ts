import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize, IsBoolean, IsIn, IsLatitude, IsLongitude, IsOptional, IsString, IsUUID, Length, Matches, ValidateNested,
} from 'class-validator';
import { FUNDING, MOBILE_PHONE, SUBSIDY_CATEGORIES, type Funding, type SubsidyCategory } from '@linan/people';
import { DEVICE_KINDS, DEVICE_PROTOCOLS, SERIAL, type DeviceKind, type DeviceProtocol } from '@linan/devices';

const PHONE_MESSAGE = '$property must be a mainland mobile number (11 digits starting with 1)';

export class ContactDto {
  @ApiProperty({ example: '张丽' }) @IsString() @Length(1, 64) name!: string;
  @ApiProperty({ example: '13900001111' }) @Matches(MOBILE_PHONE, { message: PHONE_MESSAGE }) phone!: string;
  @ApiProperty({ example: '女儿' }) @IsString() @Length(1, 32) relation!: string;
}

export class AreaDto {
  @ApiProperty({ example: '思明区' }) @IsString() @Length(1, 64) district!: string;
  @ApiProperty({ example: '莲前街道' }) @IsString() @Length(1, 64) street!: string;
  @ApiProperty({ example: '莲花社区' }) @IsString() @Length(1, 64) community!: string;
}

export class CreateHouseholdDto extends AreaDto {
  @ApiProperty({ example: '张三丰' }) @IsString() @Length(1, 64) name!: string;
  @ApiProperty({ example: '13812345678' }) @Matches(MOBILE_PHONE, { message: PHONE_MESSAGE }) phone!: string;
  @ApiProperty({ example: '厦门市思明区莲前西路100号3单元502' }) @IsString() @Length(2, 200) address!: string;
  @ApiPropertyOptional() @IsOptional() @IsLatitude() lat?: number;
  @ApiPropertyOptional() @IsOptional() @IsLongitude() lng?: number;
  @ApiProperty({ enum: SUBSIDY_CATEGORIES }) @IsIn(SUBSIDY_CATEGORIES) subsidyCategory!: SubsidyCategory;
  @ApiProperty({ enum: FUNDING }) @IsIn(FUNDING) funding!: Funding;
  @ApiPropertyOptional({ type: [ContactDto] })
  @IsOptional() @ArrayMaxSize(10) @ValidateNested({ each: true }) @Type(() => ContactDto) contacts?: ContactDto[];
}

export class RegisterDeviceDto {
  @ApiProperty({ example: 'SOS-0001', description: 'the device serial; also its MQTT client id and username' })
  @Matches(SERIAL, { message: 'serial must be 3–64 characters of A-Z a-z 0-9 . _ : -' }) serial!: string;
  @ApiProperty({ enum: DEVICE_KINDS }) @IsIn(DEVICE_KINDS) type!: DeviceKind;
  @ApiPropertyOptional() @IsOptional() @IsString() @Length(1, 64) model?: string;
  @ApiPropertyOptional({ enum: DEVICE_PROTOCOLS }) @IsOptional() @IsIn(DEVICE_PROTOCOLS) protocol?: DeviceProtocol;
  @ApiPropertyOptional({ description: 'zigbee2mqtt: serial of the hub device' }) @IsOptional() @Matches(SERIAL, { message: 'hubId must be a device serial' }) hubId?: string;
  @ApiPropertyOptional({ description: 'zigbee2mqtt: the friendly name' }) @IsOptional() @IsString() @Length(1, 128) zigbeeName?: string;
  @ApiPropertyOptional({ description: 'SIA DC-09: the account, without #' }) @IsOptional() @Matches(/^[0-9A-Fa-f]{3,16}$/, { message: 'account must be 3–16 hex digits' }) account?: string;
  @ApiPropertyOptional({ description: 'SIA DC-09: AES key, hex' }) @IsOptional() @Matches(/^([0-9A-Fa-f]{32}|[0-9A-Fa-f]{48}|[0-9A-Fa-f]{64})$/, { message: 'aesKey must be 32, 48 or 64 hex digits' }) aesKey?: string;
  @ApiPropertyOptional({ description: 'CTWing: the IMEI' }) @IsOptional() @Matches(/^\d{15}$/, { message: 'imei must be 15 digits' }) imei?: string;
}

export class InstallDeviceDto {
  @ApiProperty() @IsUUID() householdId!: string;
}

export class CreateAideDto extends AreaDto {
  @ApiProperty({ example: '李助老' }) @IsString() @Length(1, 64) name!: string;
  @ApiProperty({ example: '13700002222' }) @Matches(MOBILE_PHONE, { message: PHONE_MESSAGE }) phone!: string;
  @ApiPropertyOptional({ default: false }) @IsOptional() @IsBoolean() onDuty?: boolean;
}

export class DutyDto {
  @ApiProperty() @IsBoolean() onDuty!: boolean;
}
