import { IsIn, IsInt, IsObject, IsString, Max, Min, ValidateIf } from 'class-validator';
import type { RuleMode } from '../interfaces/index.js';
import { BOUNDS } from '../rate-limit.constants.js';

/** Checks only a property that is present; unlike `@IsOptional`, `null` is still rejected. */
const IfPresent = () => ValidateIf((_object: object, value: unknown) => value !== undefined);

/** Body of `PATCH /admin/rules/:name`; bounds from the table boot-time validation uses. @internal */
export class PatchRuleDto {
  @IfPresent()
  @IsInt()
  @Min(BOUNDS.limit.min)
  @Max(BOUNDS.limit.max)
  limit?: number;

  @IfPresent()
  @IsInt()
  @Min(BOUNDS.windowMs.min)
  @Max(BOUNDS.windowMs.max)
  windowMs?: number;

  @IfPresent()
  @IsIn(['enforce', 'dry-run'])
  mode?: RuleMode;

  /** A weighted rule's weights by class; checked against the rule's classes by the controller. */
  @IfPresent()
  @IsObject()
  classes?: Record<string, number>;
}

/** Body of `PUT /admin/rules/:name/overrides/:key`. @internal */
export class KeyCapDto {
  @IsInt()
  @Min(BOUNDS.limit.min)
  @Max(BOUNDS.limit.max)
  limit!: number;

  @IfPresent()
  @IsInt()
  @Min(BOUNDS.windowMs.min)
  @Max(BOUNDS.windowMs.max)
  windowMs?: number;
}

/** Query of `GET /admin/rules/:name/keys/:key`: the caller's tier, for a tiered rule. @internal */
export class InspectQueryDto {
  @IfPresent()
  @IsString()
  tier?: string;
}
