package web

func (s *Server) protocolRoutes() {}
