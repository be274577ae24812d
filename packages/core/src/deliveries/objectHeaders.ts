import type { FitsHeader } from "../fits/header";
import { readFitsHeader, readHeaderText } from "../fits/hdus";
import type { ArchiveObjectKey } from "../names/fileName";
import type { AwsContext } from "../platform/context";
import { readObjectPrefix } from "../platform/s3";

/**
 * The FITS header an arrived object carries: a .txt is read whole, a FITS file (plain, bz2, gz, fz) only until its
 * header's END. The one way every pipeline reads a header; problems are logged and the header kept as parsed.
 */
export async function readObjectHeader(
  ctx: Pick<AwsContext, "s3" | "config" | "log">,
  file: ArchiveObjectKey & { extension: "txt" | "fits" },
): Promise<FitsHeader> {
  const header =
    file.extension === "txt"
      ? await readObjectPrefix(ctx, file.key, readHeaderText)
      : await readObjectPrefix(ctx, file.key, (chunks) => readFitsHeader(chunks, file.compression));
  if (header.problems.length > 0) ctx.log.warn("the header is stored as parsed, with problems", { problems: header.problems });
  return header;
}

export function isHeaderFile(file: ArchiveObjectKey): file is ArchiveObjectKey & { extension: "txt" | "fits" } {
  return file.extension === "txt" || file.extension === "fits";
}
