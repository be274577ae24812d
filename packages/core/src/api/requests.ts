import { z } from "zod";
import {
  ARCHIVE_DIRECTORIES,
  MAX_FILE_NAME_LENGTH,
  UPLOAD_DIRECTORIES,
  uploadObjectKey,
  type ArchiveDirectory,
  type UploadDirectory,
  type UploadObjectKey,
} from "../names/fileName";
import { InvalidInputError } from "../platform/errors";

/** The API's request schemas and the one way input is validated: the first problem becomes a 400 naming its field. */

/** Checked before the file-name parser so hostile input gets a plain reason and never reaches a key. */
const objectNameSchema = z
  .string({ required_error: "is required", invalid_type_error: "must be a string" })
  .min(1, "must not be empty")
  .max(MAX_FILE_NAME_LENGTH, `must be at most ${MAX_FILE_NAME_LENGTH} characters`)
  .regex(/^[\x20-\x7e]+$/, "must be printable ASCII")
  .refine((name) => !name.includes("/") && !name.includes("\\"), "must not contain a path separator")
  .refine((name) => !name.includes(".."), 'must not contain ".."');

const directorySchema = z.enum(ARCHIVE_DIRECTORIES as [ArchiveDirectory, ...ArchiveDirectory[]], {
  errorMap: () => ({ message: `must be one of ${ARCHIVE_DIRECTORIES.join(", ")}` }),
});

/** Uploads may also go to test/, which is stored only (no pipeline reads it), as the replaced upload route allowed. */
const uploadDirectorySchema = z.enum(UPLOAD_DIRECTORIES as [UploadDirectory, ...UploadDirectory[]], {
  errorMap: () => ({ message: `must be one of ${UPLOAD_DIRECTORIES.join(", ")}` }),
});

export const infoChannelSchema = z
  .union([z.number(), z.string().regex(/^\d+$/, "must be 1, 2 or 3").transform(Number)], {
    errorMap: () => ({ message: "must be 1, 2 or 3" }),
  })
  .pipe(z.union([z.literal(1), z.literal(2), z.literal(3)], { errorMap: () => ({ message: "must be 1, 2 or 3" }) }));

/** Control characters (NUL above all) have no place in a FITS card and would only fail later, in the database. */
function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}
const headerTextSchema = z.string().refine((text) => !hasControlCharacter(text), "must not contain control characters");

/** A FITS header sent as JSON: keyword → scalar value (null for an undefined value); COMMENT / HISTORY as lists. */
export const headerObjectSchema = z.record(
  z.string().min(1).max(128).pipe(headerTextSchema),
  z.union([headerTextSchema, z.number(), z.boolean(), z.null(), z.array(headerTextSchema)], {
    errorMap: () => ({ message: "must be a string, number, boolean, null or a list of strings, without control characters" }),
  }),
);

export const uploadRequestSchema = z.object({
  object_name: objectNameSchema,
  s3_directory: uploadDirectorySchema.default("data"),
  info_channel: infoChannelSchema.default(1),
  header: headerObjectSchema.optional(),
});
export type UploadRequest = z.output<typeof uploadRequestSchema>;

export const downloadRequestSchema = z.object({
  object_name: objectNameSchema,
  s3_directory: directorySchema.default("data"),
});
export type DownloadRequest = z.output<typeof downloadRequestSchema>;

/** Validates input with a schema; the first problem becomes a 400 naming its field. */
export function parseInput<S extends z.ZodTypeAny>(schema: S, input: unknown, fieldPrefix = ""): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = [fieldPrefix, ...(issue?.path ?? [])].filter((part) => part !== "").join(".") || "body";
  throw new InvalidInputError(`${field} ${issue?.message ?? "is invalid"}`, field);
}

export function parseJsonBody(body: string | undefined): unknown {
  if (body === undefined || body.trim() === "") throw new InvalidInputError("body must be a JSON object", "body");
  try {
    return JSON.parse(body);
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    throw new InvalidInputError(`body is not valid JSON: ${error.message}`, "body");
  }
}

export function decodePathParameter(raw: string, name: string): string {
  try {
    return decodeURIComponent(raw);
  } catch (error) {
    if (!(error instanceof URIError)) throw error;
    throw new InvalidInputError(`${name} has malformed percent-encoding`, name);
  }
}

/** The request's file as an object key; a name the archive would reject is refused before anything is signed. */
export function requestedObjectKey(directory: UploadDirectory, objectName: string): UploadObjectKey {
  try {
    return uploadObjectKey(directory, objectName);
  } catch (error) {
    if (!(error instanceof InvalidInputError)) throw error;
    // The parser names the wrong part of the name; the caller needs to know which request field holds it.
    throw new InvalidInputError(`object_name ${error.message} (${error.field})`, "object_name");
  }
}
