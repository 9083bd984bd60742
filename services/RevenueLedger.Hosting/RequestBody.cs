using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using RevenueLedger.ServiceDefaults;

namespace RevenueLedger.Hosting;

public static class RequestBody
{
    /// <summary>
    /// The whole body, at most <see cref="HostSettings.MaxBodyBytes"/>; null when larger (the caller answers 413). The
    /// limit is checked here as well as by Kestrel so that every server (and the test server) refuses alike. The bytes
    /// sit in a pooled buffer until the body is disposed: a batch's body is large enough for the large-object heap,
    /// and a new one per request made the service run a full collection every second or two under load.
    /// </summary>
    public static async Task<Body?> ReadAsync(HttpRequest request, CancellationToken ct)
    {
        if (request.ContentLength > HostSettings.MaxBodyBytes) return null;
        var body = new Body(request.ContentLength is { } n ? (int)n + 1 : 16 * 1024);
        try
        {
            while (true)
            {
                if (body.Free == 0) body.Grow();
                int read = await request.Body.ReadAsync(body.FreeMemory, ct);
                if (read == 0) return body;
                body.Advance(read);
                if (body.Length > HostSettings.MaxBodyBytes)
                {
                    body.Dispose();
                    return null;
                }
            }
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            body.Dispose();
            return null;
        }
        catch
        {
            body.Dispose();
            throw;
        }
    }

    /// <summary>A request body in a buffer rented from the shared pool; the bytes are not to be used after disposal.</summary>
    public sealed class Body(int capacity) : IDisposable
    {
        private byte[] _buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(capacity);

        public int Length { get; private set; }

        public ReadOnlyMemory<byte> Memory => _buffer.AsMemory(0, Length);

        internal int Free => _buffer.Length - Length;

        internal Memory<byte> FreeMemory => _buffer.AsMemory(Length);

        internal void Advance(int count) => Length += count;

        internal void Grow()
        {
            var bigger = System.Buffers.ArrayPool<byte>.Shared.Rent(_buffer.Length * 2);
            _buffer.AsSpan(0, Length).CopyTo(bigger);
            System.Buffers.ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = bigger;
        }

        public void Dispose()
        {
            if (_buffer.Length == 0) return;
            System.Buffers.ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = [];
            Length = 0;
        }
    }

    /// <summary>
    /// Events are JSON: a body declared as anything else, or not declared at all, is refused before it is read (415),
    /// so a client that sent the wrong thing learns it rather than having it guessed.
    /// </summary>
    public static ProblemHttpResult? NotJson(HttpRequest request) =>
        request.ContentType is { } type && (type.StartsWith("application/json", StringComparison.OrdinalIgnoreCase) || type.Contains("+json", StringComparison.OrdinalIgnoreCase))
            ? null
            : Problems.Result(StatusCodes.Status415UnsupportedMediaType, Problems.UnsupportedMediaType, "Unsupported media type",
                request.ContentType is null ? "the body has no Content-Type: send it as application/json" : $"the body is {request.ContentType}: send it as application/json");

    public static IResult TooLarge() => Problems.Result(StatusCodes.Status413PayloadTooLarge, Problems.BodyTooLarge, "Request body too large",
        $"the body may be at most {HostSettings.MaxBodyBytes} bytes (10 MiB)");
}
