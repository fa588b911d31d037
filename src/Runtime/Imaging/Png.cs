using System.Buffers.Binary;
using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace PixelCost.Runtime.Imaging;

public enum PngColor { Gray = 0, Rgb = 2, Rgba = 6 }

/// <summary>The five PNG row filters (PNG spec §9.2); the byte written before each filtered row.</summary>
internal enum PngFilter : byte { None = 0, Sub = 1, Up = 2, Average = 3, Paeth = 4 }

/// <summary>Encoder knobs that only tests and benchmarks change.</summary>
internal readonly record struct PngEncodeOptions(PngFilter? ForceFilter = null, CompressionLevel Level = Png.DefaultLevel);

/// <summary>
/// Our own PNG encoder/decoder: 8-bit, non-interlaced gray/RGB/RGBA. Rows are filtered with the filter chosen per row
/// by the minimum sum of absolute differences (PNG spec §12.8; libpng's default heuristic), deflated with zlib from
/// System.IO.Compression and split into IDAT chunks.
/// </summary>
public static class Png
{
    /// <summary>
    /// zlib "Optimal" (level 6), not SmallestSize (level 9). Measured on 1024×1024 RGB (adaptive filters; .NET's zlib-ng;
    /// busy 2-core VM): a photo-like image 1.80 MB with Optimal vs 1.92 MB with SmallestSize, which was also ~1.6× slower;
    /// a smooth gradient 22 KB vs 9 KB (both negligible) at ~5× the time; noise is incompressible either way. After good
    /// row filters the slower level finds little more, so the balanced setting wins on what we write (decoded images).
    /// </summary>
    internal const CompressionLevel DefaultLevel = CompressionLevel.Optimal;

    /// <summary>IDAT payload size per chunk: large enough that chunk overhead (12 B) is noise, small enough to stream.</summary>
    internal const int IdatChunkBytes = 1 << 16;

    /// <summary>PNG caps width and height at 2³¹−1 (spec §11.2.2).</summary>
    public const int MaxDimension = int.MaxValue;

    internal static ReadOnlySpan<byte> Signature => [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    public static int Channels(PngColor color) => color switch
    {
        PngColor.Gray => 1,
        PngColor.Rgb => 3,
        PngColor.Rgba => 4,
        _ => throw new ArgumentException($"PNG: unsupported color type {(int)color} (supported: Gray, Rgb, Rgba)", nameof(color)),
    };

    /// <summary>Writes an 8-bit PNG to <paramref name="path"/> via a temporary file renamed when complete.</summary>
    /// <remarks>
    /// The temporary file sits in the destination folder so that the final rename stays on one file system (atomic on
    /// POSIX): readers see either the old file or the complete new one, never a partial PNG. On failure the
    /// temporary file is deleted.
    /// </remarks>
    public static void Write(string path, ReadOnlySpan<byte> pixels, int width, int height, PngColor color) =>
        Write(path, pixels, width, height, color, default);

    internal static void Write(string path, ReadOnlySpan<byte> pixels, int width, int height, PngColor color, PngEncodeOptions options)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        Validate(pixels.Length, width, height, color, $"PNG {path}");
        byte[] encoded = Encode(pixels, width, height, color, options);
        IO.AtomicFile.WriteAllBytes(path, encoded);
    }

    /// <summary>Encodes to bytes.</summary>
    public static byte[] Encode(ReadOnlySpan<byte> pixels, int width, int height, PngColor color) =>
        Encode(pixels, width, height, color, default);

    internal static byte[] Encode(ReadOnlySpan<byte> pixels, int width, int height, PngColor color, PngEncodeOptions options)
    {
        Validate(pixels.Length, width, height, color, "PNG");
        var ms = new MemoryStream();
        EncodeTo(ms, pixels, width, height, color, options);
        return ms.ToArray();
    }

    private static void Validate(int length, int width, int height, PngColor color, string what)
    {
        if (color is not (PngColor.Gray or PngColor.Rgb or PngColor.Rgba))
            throw new ArgumentException($"{what}: unsupported color type {(int)color} (supported: Gray, Rgb, Rgba)", nameof(color));
        int ch = Channels(color);
        if (width <= 0 || height <= 0)
            throw new ArgumentException($"{what}: image {width}×{height} {color}: width and height must be ≥ 1", width <= 0 ? nameof(width) : nameof(height));
        long need = (long)width * height * ch;
        // A span holds < 2³¹ bytes, so a larger image cannot be passed at all; the filtered row (+1 filter byte)
        // must also fit an int-indexed buffer.
        if (need > Array.MaxLength || (long)width * ch + 1 > Array.MaxLength)
            throw new ArgumentException($"{what}: image {width}×{height} {color} needs {need:N0} bytes, more than one buffer holds ({Array.MaxLength:N0})");
        if (length != need)
            throw new ArgumentException($"{what}: image {width}×{height} {color} ({ch} channel{(ch == 1 ? "" : "s")}) needs {need:N0} pixel bytes, got {length:N0}", "pixels");
    }

    private static void EncodeTo(Stream output, ReadOnlySpan<byte> pixels, int width, int height, PngColor color, PngEncodeOptions options)
    {
        int ch = Channels(color);
        int stride = width * ch;
        output.Write(Signature);

        Span<byte> ihdr = stackalloc byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr[4..], height);
        ihdr[8] = 8;              // bit depth
        ihdr[9] = (byte)color;    // color type
        ihdr[10] = 0;             // compression: deflate
        ihdr[11] = 0;             // filter method 0 (the five adaptive filters)
        ihdr[12] = 0;             // no interlace
        WriteChunk(output, "IHDR"u8, ihdr);

        using (var idat = new IdatStream(output))
        using (var z = new ZLibStream(idat, options.Level, leaveOpen: true))
        {
            // Candidate rows: one filter byte + stride bytes each, for the five filters.
            var cand = new byte[5][];
            for (int f = 0; f < 5; f++) { cand[f] = new byte[stride + 1]; cand[f][0] = (byte)f; }
            var zeroRow = new byte[stride];
            for (int y = 0; y < height; y++)
            {
                ReadOnlySpan<byte> cur = pixels.Slice(y * stride, stride);
                ReadOnlySpan<byte> prev = y == 0 ? zeroRow : pixels.Slice((y - 1) * stride, stride);
                byte[] chosen;
                if (options.ForceFilter is { } forced)
                {
                    chosen = cand[(int)forced];
                    ApplyFilter(forced, cur, prev, ch, chosen.AsSpan(1));
                }
                else
                {
                    chosen = cand[0];
                    long best = long.MaxValue;
                    for (int f = 0; f < 5; f++)
                    {
                        ApplyFilter((PngFilter)f, cur, prev, ch, cand[f].AsSpan(1));
                        long score = SumAbsSigned(cand[f].AsSpan(1), best);
                        if (score < best) { best = score; chosen = cand[f]; }
                    }
                }
                z.Write(chosen);
            }
        }
        WriteChunk(output, "IEND"u8, []);
    }

    /// <summary>
    /// Sum of filtered bytes read as signed (|−1| = 1, not 255): small residues around zero are what deflate compresses
    /// best. Stops early once the running sum passes <paramref name="stopAbove"/> (it can no longer win).
    /// </summary>
    private static long SumAbsSigned(ReadOnlySpan<byte> row, long stopAbove)
    {
        long sum = 0;
        int i = 0;
        if (Avx2.IsSupported)
        {
            // |x| of a signed byte, reread as unsigned, is exact even for −128; vpsadbw then sums 8 bytes per lane.
            ref byte r = ref MemoryMarshal.GetReference(row);
            var acc = Vector256<ulong>.Zero;
            for (; i + 32 <= row.Length; i += 32)
            {
                var v = Vector256.LoadUnsafe(ref r, (nuint)i).AsSByte();
                acc += Avx2.SumAbsoluteDifferences(Vector256.Abs(v).AsByte(), Vector256<byte>.Zero).AsUInt64();
                if ((i & 4095) == 4064)
                {
                    if ((long)Vector256.Sum(acc) >= stopAbove) return (long)Vector256.Sum(acc);
                }
            }
            sum = (long)Vector256.Sum(acc);
        }
        for (; i < row.Length; i++) sum += Math.Abs((int)(sbyte)row[i]);
        return sum;
    }

    // bpp = bytes per complete pixel (spec: for 8-bit samples, the channel count); the byte "to the left" of the
    // first pixel is 0, as is the row above the first row. Filtering reads only original bytes (cur, prev), never its
    // own output, so every filter vectorises; the scalar loops finish the tails and define the arithmetic.
    internal static void ApplyFilter(PngFilter filter, ReadOnlySpan<byte> cur, ReadOnlySpan<byte> prev, int bpp, Span<byte> dst)
    {
        int n = cur.Length;
        switch (filter)
        {
            case PngFilter.None:
                cur.CopyTo(dst);
                break;
            case PngFilter.Sub:
            {
                for (int i = 0; i < Math.Min(bpp, n); i++) dst[i] = cur[i];
                int j = bpp;
                if (Vector256.IsHardwareAccelerated)
                    for (; j + 32 <= n; j += 32)
                        (V(cur, j) - V(cur, j - bpp)).StoreUnsafe(ref MemoryMarshal.GetReference(dst), (nuint)j);
                for (; j < n; j++) dst[j] = (byte)(cur[j] - cur[j - bpp]);
                break;
            }
            case PngFilter.Up:
            {
                int j = 0;
                if (Vector256.IsHardwareAccelerated)
                    for (; j + 32 <= n; j += 32)
                        (V(cur, j) - V(prev, j)).StoreUnsafe(ref MemoryMarshal.GetReference(dst), (nuint)j);
                for (; j < n; j++) dst[j] = (byte)(cur[j] - prev[j]);
                break;
            }
            case PngFilter.Average:
            {
                for (int i = 0; i < Math.Min(bpp, n); i++) dst[i] = (byte)(cur[i] - (prev[i] >> 1));
                int j = bpp;
                if (Vector256.IsHardwareAccelerated)
                    for (; j + 32 <= n; j += 32)
                    {
                        // floor((a + b) / 2) without a 9-bit intermediate: (a & b) + ((a ^ b) >> 1).
                        Vector256<byte> a = V(cur, j - bpp), b = V(prev, j);
                        var avg = (a & b) + Vector256.ShiftRightLogical(a ^ b, 1);
                        (V(cur, j) - avg).StoreUnsafe(ref MemoryMarshal.GetReference(dst), (nuint)j);
                    }
                for (; j < n; j++) dst[j] = (byte)(cur[j] - ((cur[j - bpp] + prev[j]) >> 1));
                break;
            }
            case PngFilter.Paeth:
            {
                for (int i = 0; i < Math.Min(bpp, n); i++) dst[i] = (byte)(cur[i] - prev[i]); // Paeth(0, b, 0) = b
                int j = bpp;
                if (Vector256.IsHardwareAccelerated)
                    for (; j + 32 <= n; j += 32)
                    {
                        var (aLo, aHi) = Vector256.Widen(V(cur, j - bpp));
                        var (bLo, bHi) = Vector256.Widen(V(prev, j));
                        var (cLo, cHi) = Vector256.Widen(V(prev, j - bpp));
                        var pred = Vector256.Narrow(PaethV(aLo.AsInt16(), bLo.AsInt16(), cLo.AsInt16()).AsUInt16(),
                                                    PaethV(aHi.AsInt16(), bHi.AsInt16(), cHi.AsInt16()).AsUInt16());
                        (V(cur, j) - pred).StoreUnsafe(ref MemoryMarshal.GetReference(dst), (nuint)j);
                    }
                for (; j < n; j++) dst[j] = (byte)(cur[j] - Paeth(cur[j - bpp], prev[j], prev[j - bpp]));
                break;
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(filter), filter, "PNG filter type must be 0..4");
        }
    }

    private static Vector256<byte> V(ReadOnlySpan<byte> s, int at) => Vector256.LoadUnsafe(ref MemoryMarshal.GetReference(s), (nuint)at);

    /// <summary><see cref="Paeth"/> on 16 lanes of 16-bit values (|a + b − 2c| ≤ 510 fits).</summary>
    private static Vector256<short> PaethV(Vector256<short> a, Vector256<short> b, Vector256<short> c)
    {
        var pa = Vector256.Abs(b - c);       // |p − a| with p = a + b − c
        var pb = Vector256.Abs(a - c);       // |p − b|
        var pc = Vector256.Abs(a + b - c - c); // |p − c|
        var useA = Vector256.LessThanOrEqual(pa, pb) & Vector256.LessThanOrEqual(pa, pc);
        var bOrC = Vector256.ConditionalSelect(Vector256.LessThanOrEqual(pb, pc), b, c);
        return Vector256.ConditionalSelect(useA, a, bOrC);
    }

    /// <summary>Paeth predictor (spec §9.4): the neighbour closest to a + b − c, ties broken a, b, c.</summary>
    private static int Paeth(int a, int b, int c)
    {
        int p = a + b - c;
        int pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        if (pa <= pb && pa <= pc) return a;
        return pb <= pc ? b : c;
    }

    private static void WriteChunk(Stream output, ReadOnlySpan<byte> type, ReadOnlySpan<byte> data)
    {
        Span<byte> head = stackalloc byte[8];
        BinaryPrimitives.WriteInt32BigEndian(head, data.Length);
        type.CopyTo(head[4..]);
        output.Write(head);
        output.Write(data);
        // The CRC covers type and data, not the length (spec §5.3).
        uint crc = Crc32.Update(Crc32.Update(Crc32.Initial, type), data) ^ 0xFFFFFFFFu;
        Span<byte> tail = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(tail, crc);
        output.Write(tail);
    }

    /// <summary>Buffers the zlib stream and emits it as IDAT chunks of <see cref="IdatChunkBytes"/>.</summary>
    private sealed class IdatStream(Stream output) : Stream
    {
        private readonly byte[] _buf = new byte[IdatChunkBytes];
        private int _used;

        public override void Write(ReadOnlySpan<byte> data)
        {
            while (data.Length > 0)
            {
                int n = Math.Min(data.Length, _buf.Length - _used);
                data[..n].CopyTo(_buf.AsSpan(_used));
                _used += n;
                data = data[n..];
                if (_used == _buf.Length) Emit();
            }
        }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        private void Emit()
        {
            if (_used == 0) return;
            WriteChunk(output, "IDAT"u8, _buf.AsSpan(0, _used));
            _used = 0;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) Emit();
            base.Dispose(disposing);
        }

        // Flush is a no-op on purpose: ZLibStream flushes on dispose, and emitting a short IDAT per flush would only
        // add chunk overhead. The remaining bytes go out in Dispose.
        public override void Flush() { }
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }

    /// <summary>Decodes 8-bit non-interlaced gray/RGB/RGBA PNGs (enough to read our files back).</summary>
    /// <exception cref="InvalidDataException">The bytes are not a well-formed PNG; the message says what is wrong.</exception>
    /// <exception cref="NotSupportedException">A well-formed PNG this decoder does not handle (bit depth, palette, interlace).</exception>
    public static (byte[] Pixels, int Width, int Height, PngColor Color) Decode(ReadOnlySpan<byte> file)
    {
        if (file.Length < Signature.Length || !file[..Signature.Length].SequenceEqual(Signature))
            throw new InvalidDataException("PNG: missing PNG signature (not a PNG file)");
        int pos = Signature.Length;
        int width = 0, height = 0;
        PngColor color = PngColor.Gray;
        bool sawHeader = false, sawEnd = false, idatDone = false;
        int idatSeen = 0;
        var idat = new MemoryStream();
        while (!sawEnd)
        {
            if (file.Length - pos < 12)
                throw new InvalidDataException($"PNG: truncated at byte {pos}: {(idatSeen == 0 ? "no IDAT chunk" : "no IEND chunk")} before end of file");
            uint len = BinaryPrimitives.ReadUInt32BigEndian(file[pos..]);
            ReadOnlySpan<byte> type = file.Slice(pos + 4, 4);
            string name = ChunkName(type);
            if (len > int.MaxValue || len > (uint)(file.Length - pos - 12))
                throw new InvalidDataException($"PNG: chunk '{name}' at byte {pos} claims {len:N0} data bytes but only {Math.Max(0, file.Length - pos - 12):N0} remain");
            ReadOnlySpan<byte> data = file.Slice(pos + 8, (int)len);
            uint stored = BinaryPrimitives.ReadUInt32BigEndian(file[(pos + 8 + (int)len)..]);
            uint actual = Crc32.Compute(file.Slice(pos + 4, 4 + (int)len));
            if (stored != actual)
                throw new InvalidDataException($"PNG: CRC mismatch in chunk '{name}' at byte {pos}: stored {stored:X8}, computed {actual:X8}");
            if (!sawHeader && name != "IHDR")
                throw new InvalidDataException($"PNG: first chunk is '{name}', expected 'IHDR'");

            switch (name)
            {
                case "IHDR":
                    if (sawHeader) throw new InvalidDataException("PNG: more than one IHDR chunk");
                    if (len != 13) throw new InvalidDataException($"PNG: IHDR has {len} data bytes, expected 13");
                    sawHeader = true;
                    width = BinaryPrimitives.ReadInt32BigEndian(data);
                    height = BinaryPrimitives.ReadInt32BigEndian(data[4..]);
                    if (width <= 0 || height <= 0)
                        throw new InvalidDataException($"PNG: IHDR size {(uint)width}×{(uint)height} is invalid (each must be 1..2³¹−1)");
                    byte depth = data[8], ctype = data[9];
                    if (data[10] != 0) throw new InvalidDataException($"PNG: IHDR compression method {data[10]} is invalid (only 0)");
                    if (data[11] != 0) throw new InvalidDataException($"PNG: IHDR filter method {data[11]} is invalid (only 0)");
                    if (data[12] > 1) throw new InvalidDataException($"PNG: IHDR interlace method {data[12]} is invalid");
                    if (ctype is not (0 or 2 or 3 or 4 or 6)) throw new InvalidDataException($"PNG: IHDR color type {ctype} is invalid");
                    if (depth != 8 || ctype is not (0 or 2 or 6) || data[12] != 0)
                        throw new NotSupportedException($"PNG: bit depth {depth}, color type {ctype}, interlace {data[12]} not supported by this decoder (8-bit gray/RGB/RGBA, non-interlaced only)");
                    color = (PngColor)ctype;
                    long px = (long)width * height * Channels(color);
                    if (px > Array.MaxLength || (long)width * Channels(color) + 1 > Array.MaxLength)
                        throw new InvalidDataException($"PNG: image {width}×{height} {color} is too large to decode into one buffer ({px:N0} bytes)");
                    break;
                case "IDAT":
                    if (idatDone) throw new InvalidDataException("PNG: IDAT chunks are not consecutive");
                    idatSeen++;
                    idat.Write(data);
                    break;
                case "IEND":
                    sawEnd = true;
                    break;
                default:
                    // Bit 5 of the first letter (lower case) marks an ancillary chunk we may skip (spec §5.4).
                    if ((type[0] & 0x20) == 0)
                        throw new NotSupportedException($"PNG: critical chunk '{name}' not supported by this decoder");
                    break;
            }
            if (name != "IDAT" && idatSeen > 0) idatDone = true;
            pos += 12 + (int)len;
        }
        if (idatSeen == 0) throw new InvalidDataException("PNG: no IDAT chunk");

        int ch = Channels(color);
        int stride = width * ch;
        var pixels = new byte[(long)stride * height];
        var row = new byte[stride + 1];
        idat.Position = 0;
        using var z = new ZLibStream(idat, CompressionMode.Decompress);
        try
        {
            for (int y = 0; y < height; y++)
            {
                ReadExactly(z, row, y, height);
                byte f = row[0];
                if (f > 4) throw new InvalidDataException($"PNG: row {y} has filter type {f} (must be 0..4)");
                Span<byte> cur = pixels.AsSpan(y * stride, stride);
                ReadOnlySpan<byte> prev = y == 0 ? new byte[stride] : pixels.AsSpan((y - 1) * stride, stride);
                Unfilter((PngFilter)f, row.AsSpan(1), prev, ch, cur);
            }
            if (z.ReadByte() >= 0) throw new InvalidDataException($"PNG: image data is longer than {height} rows of {stride + 1} bytes");
        }
        catch (InvalidDataException e) when (!e.Message.StartsWith("PNG:", StringComparison.Ordinal))
        {
            // zlib's own messages do not say where the data came from.
            throw new InvalidDataException($"PNG: IDAT data is not a valid zlib stream: {e.Message}", e);
        }
        return (pixels, width, height, color);
    }

    private static void ReadExactly(Stream z, byte[] row, int y, int height)
    {
        int got = 0;
        while (got < row.Length)
        {
            int n = z.Read(row, got, row.Length - got);
            if (n == 0) throw new InvalidDataException($"PNG: image data ends in row {y} of {height} (IDAT too short)");
            got += n;
        }
    }

    private static void Unfilter(PngFilter filter, ReadOnlySpan<byte> src, ReadOnlySpan<byte> prev, int bpp, Span<byte> cur)
    {
        int n = src.Length;
        switch (filter)
        {
            case PngFilter.None:
                src.CopyTo(cur);
                break;
            case PngFilter.Sub:
                for (int i = 0; i < bpp; i++) cur[i] = src[i];
                for (int i = bpp; i < n; i++) cur[i] = (byte)(src[i] + cur[i - bpp]);
                break;
            case PngFilter.Up:
                for (int i = 0; i < n; i++) cur[i] = (byte)(src[i] + prev[i]);
                break;
            case PngFilter.Average:
                for (int i = 0; i < bpp; i++) cur[i] = (byte)(src[i] + (prev[i] >> 1));
                for (int i = bpp; i < n; i++) cur[i] = (byte)(src[i] + ((cur[i - bpp] + prev[i]) >> 1));
                break;
            case PngFilter.Paeth:
                for (int i = 0; i < bpp; i++) cur[i] = (byte)(src[i] + prev[i]);
                for (int i = bpp; i < n; i++) cur[i] = (byte)(src[i] + Paeth(cur[i - bpp], prev[i], prev[i - bpp]));
                break;
        }
    }

    private static string ChunkName(ReadOnlySpan<byte> type)
    {
        Span<char> c = stackalloc char[4];
        for (int i = 0; i < 4; i++) c[i] = type[i] is >= 0x20 and < 0x7F ? (char)type[i] : '?';
        return new string(c);
    }
}

/// <summary>CRC-32 of PNG/zlib (ISO 3309, reflected polynomial 0xEDB88320), one table lookup per byte.</summary>
internal static class Crc32
{
    public const uint Initial = 0xFFFFFFFFu;

    private static readonly uint[] Table = BuildTable();

    private static uint[] BuildTable()
    {
        var t = new uint[256];
        for (uint n = 0; n < 256; n++)
        {
            uint c = n;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            t[n] = c;
        }
        return t;
    }

    /// <summary>Continues a running CRC register (start from <see cref="Initial"/>, finish by XOR with 0xFFFFFFFF).</summary>
    public static uint Update(uint crc, ReadOnlySpan<byte> data)
    {
        uint[] t = Table;
        foreach (byte b in data) crc = t[(crc ^ b) & 0xFF] ^ (crc >> 8);
        return crc;
    }

    public static uint Compute(ReadOnlySpan<byte> data) => Update(Initial, data) ^ 0xFFFFFFFFu;
}
