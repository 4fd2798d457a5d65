import { BadRequestException, Injectable, ValidationError, ValidationPipe, type ArgumentMetadata, type PipeTransform } from '@nestjs/common';
import { isUUID } from 'class-validator';

function flatten(errors: ValidationError[], prefix = ''): { field: string; problems: string[] }[] {
  return errors.flatMap((e) => {
    const field = prefix ? `${prefix}.${e.property}` : e.property;
    const own = e.constraints ? [{ field, problems: Object.values(e.constraints) }] : [];
    return [...own, ...flatten(e.children ?? [], field)];
  });
}

/** Rejects unknown fields and names every bad field in the 400 body: `{message, fields: [{field, problems}]}`. */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    exceptionFactory: (errors) => invalidFields(flatten(errors)),
  });
}

/** The 400 of a request with bad fields: `{code: "REQUEST.INVALID", message, fields: [{field, problems}]}`. */
function invalidFields(fields: { field: string; problems: string[] }[]): BadRequestException {
  return new BadRequestException({
    statusCode: 400,
    code: 'REQUEST.INVALID',
    message: `invalid fields: ${fields.map((f) => f.field).join(', ')}`,
    fields,
  });
}

/**
 * A path or query parameter that must be a UUID (`@Param('id', UuidParam)`, `@Query('alertId', UuidParam)`; a query
 * parameter may be left out): otherwise the same 400 as a bad body field, naming it.
 */
@Injectable()
export class UuidParam implements PipeTransform<string | undefined, string | undefined> {
  transform(value: string | undefined, meta: ArgumentMetadata): string | undefined {
    if (isUUID(value) || (value === undefined && meta.type === 'query')) return value;
    const field = meta.data || 'id';
    throw invalidFields([{ field, problems: [`${field} must be a UUID`] }]);
  }
}
