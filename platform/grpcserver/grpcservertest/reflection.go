package grpcservertest

import (
	"context"
	"errors"
	"fmt"
	"io"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
)

// Reflect sends req on a grpc.reflection.v1 stream to cc and returns the
// answer. Errors: the call's status error (Unimplemented when the server
// does not serve reflection), or a status error with the code and message
// of the server's ErrorResponse (NotFound for an unknown symbol).
func Reflect(ctx context.Context, cc grpc.ClientConnInterface, req *reflectionpb.ServerReflectionRequest) (*reflectionpb.ServerReflectionResponse, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the stream whatever happens
	stream, err := reflectionpb.NewServerReflectionClient(cc).ServerReflectionInfo(ctx)
	if err != nil {
		return nil, err
	}
	// On io.EOF from Send the real status comes from Recv.
	if err := stream.Send(req); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	resp, err := stream.Recv()
	if err != nil {
		return nil, err
	}
	if e := resp.GetErrorResponse(); e != nil {
		return nil, status.Error(codes.Code(e.GetErrorCode()), e.GetErrorMessage())
	}
	return resp, nil
}

// ListServices returns the names of the services cc's server lists
// through reflection. Errors as for [Reflect].
func ListServices(ctx context.Context, cc grpc.ClientConnInterface) ([]string, error) {
	resp, err := Reflect(ctx, cc, &reflectionpb.ServerReflectionRequest{
		MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{},
	})
	if err != nil {
		return nil, err
	}
	var names []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	return names, nil
}

// FileDeclaring returns the name of the proto file that declares symbol
// (a fully qualified message, enum or service name) as cc's server
// resolves it through reflection. Errors as for [Reflect], or one saying
// the answer held no readable file descriptor.
func FileDeclaring(ctx context.Context, cc grpc.ClientConnInterface, symbol string) (string, error) {
	resp, err := Reflect(ctx, cc, &reflectionpb.ServerReflectionRequest{
		MessageRequest: &reflectionpb.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: symbol},
	})
	if err != nil {
		return "", err
	}
	// The declaring file comes first; its dependencies follow.
	raw := resp.GetFileDescriptorResponse().GetFileDescriptorProto()
	if len(raw) == 0 {
		return "", fmt.Errorf("reflection: no file descriptor for %s", symbol)
	}
	var fd descriptorpb.FileDescriptorProto
	if err := proto.Unmarshal(raw[0], &fd); err != nil {
		return "", fmt.Errorf("reflection: file descriptor for %s: %w", symbol, err)
	}
	return fd.GetName(), nil
}
